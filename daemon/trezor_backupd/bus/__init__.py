"""The bus side: the D-Bus service (`io.github.TrezorBackupGuard`) and the agents it calls. It
knows nothing of USB, udev or trezorlib; `main.py` hands it the device side's operations."""
