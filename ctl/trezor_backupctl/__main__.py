"""Allows `python -m trezor_backupctl`, so tests can run the CLI with the interpreter under test."""

from trezor_backupctl.main import main

main()
