"""The device side: finding Trezors (udev, device nodes), reading them through trezorlib, the
status model, and running the check, backup, unlock and pairing on them. Nothing here knows
D-Bus; the bus side sees only the values in `device_values`."""
