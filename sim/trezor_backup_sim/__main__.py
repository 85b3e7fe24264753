"""`python -m trezor_backup_sim`: the same entry point as the console script."""

from .main import main

main()
