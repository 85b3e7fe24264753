"""A Trezor device simulator speaking protocol v1 over UDP, like the official emulator.

It lets the daemon and its tests talk to a Model One, Model T, Safe 3 or Safe 5 in
any backup state through unmodified trezorlib, reproducing the recorded behaviour
of the real firmware for status reads, dry runs and backups.
"""
