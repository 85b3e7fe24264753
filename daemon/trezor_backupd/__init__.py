"""trezor-backupd: the user daemon that knows the backup state of every connected Trezor."""
