"""What the commands of trezor-backupctl share with their --help texts: the program's name,
the exit codes and the confirmation window of a backup's Ctrl-C.

A module of constants that imports nothing, so the parser names them without loading the
commands (each command imports what it needs only when it runs: start-up time is most of a
`status`).
"""

PROG = "trezor-backupctl"

EXIT_OK = 0
EXIT_PASSED = EXIT_OK  # what an operation's success is called in its exit status table
EXIT_FAILED = 1  # the daemon answered an error; mismatch, invalid words, an error on the device
EXIT_UNREACHABLE = 2  # also argparse's code for usage errors; the help says so
EXIT_CANCELLED = 3  # cancelled, unplugged, refused by the device or by the daemon's rules
EXIT_USAGE = 64  # EX_USAGE: which device is meant cannot be told
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C

BACKUP_CANCEL_CONFIRM_SECONDS = 5.0
"""A second Ctrl-C within this time confirms cancelling a backup; one alone could be a slip."""

UNIT_NAME = "trezor-backupd.service"
ACTIVATION_NAME = "io.github.TrezorBackupGuard.service"
"""The files `setup --user` writes, named in its --help."""
