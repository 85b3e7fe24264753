"""trezor-backupd: the user daemon that knows the backup state of every connected Trezor."""

__version__ = "0.1.0"
