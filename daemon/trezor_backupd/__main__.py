"""Allow ``python -m trezor_backupd`` (how the tests start the daemon)."""

from .main import main

main()
