"""trezor-backupd: the user daemon that knows the backup state of every connected Trezor."""

from trezor_backup_api import __version__ as __version__
