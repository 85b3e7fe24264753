"""The contract between trezor-backupd and its clients, and the one client of it.

Imported by the daemon, the command line and the applet; it imports none of them, nor
trezorlib or udev, so a client can load it headless and without the daemon's dependencies
(tests/unit/test_headless_imports.py proves it). What lives here: the bus names, error
names, the device-id rule and the Device1 property table (`names`), the strings of states,
results, kinds and stages (`vocabulary`), the device record built from `a{sv}` (`device`),
which actions fit a device (`actions`: the one rule the daemon's refusals and every view
ask), the order of urgency every view lists devices in (`urgency`), the async client
(`client`), the blocking one for one-shot calls (`blocking_client`), the errors both raise
(`daemon_errors`), the Agent1 export with its sender rule (`agent`), the input rules the
terminal and the dialogs share (`input_rules`), the owner's language: the text domain, a
sentence the daemon sends for each client to translate, and the words for each state
(`i18n`), the USB ids of every Trezor (`usb_ids`) and the XDG places of config and state
(`paths`).
"""

__version__ = "0.1.0"
