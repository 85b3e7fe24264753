"""Trezor Backup Guard's tray applet: the state of every Trezor's backup at a glance.

It talks to trezor-backupd only over D-Bus (docs/dbus-api.md): a tray icon and menu (pystray),
desktop notifications (desktop-notifier) and, as the daemon's agent, the dialogs a Model One
needs (tkinter). Threading: GTK main loop on the main thread (tray), one asyncio thread for
everything on the bus and all applet logic, one Tk thread for the dialogs; see `main`.
"""
