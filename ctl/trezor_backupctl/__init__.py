"""trezor-backupctl: the command line client of trezor-backupd.

It talks to the daemon only over the session D-Bus (see docs/dbus-api.md), so it works the same
whether the daemon was started by systemd, by D-Bus activation or by hand, and never competes
with the daemon for the USB device.
"""
