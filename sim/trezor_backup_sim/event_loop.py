"""The simulator's event loop: UDP ports, stdin control lines, the auto-lock clock.

Single-threaded: one selector waits on both UDP ports, on stdin and on the signal
wake-up socket, so an idle simulator costs nothing and SIGTERM/SIGINT end it at once.
The process's stdout says when the ports are open (`ready udp:HOST:PORT`) or that the
device waits for its boot PIN with no port bound (`boot-locked`), so tests and
scripts wait for a line instead of sleeping. Control lines on stdin (see
`CONTROL_HELP`) play what a host cannot do over USB: typing the boot PIN, pulling
the cable.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import socket
import sys
import time

from .device import Channel, Device
from .faults import Fault
from .thp_link import DEBUG_PAIRING_METHODS, ThpLink
from .udp_link import UdpLink

LOG = logging.getLogger("trezor_backup_sim")

CONTROL_HELP = """control lines on stdin (one answer line each on stdout):
  pin PIN      type the boot PIN of a device waiting at boot (--boot-locked, or after a
               power cycle of a PIN-protected core device); answers "ready udp:HOST:PORT"
               once the ports are bound, "wrong-pin" otherwise
  power-cycle  unplug and plug again: storage stays, RAM (session, unlock, running
               workflows, a repeated-backup unlock) is lost; answers "ready ..." or,
               for a PIN-protected core device, "boot-locked" (no port bound until "pin")
  wipe         erase the storage as WipeDevice does (new device id), then power-cycle
               (for tests starting from scratch); answers "ready ..."
"""


class EventLoop:
    """Owns the ports (bound only while the device is past its boot PIN) and the clock."""

    def __init__(
        self,
        device: Device,
        host: str,
        port: int,
        fault: Fault | None,
        auto_lock_seconds: float,
        *,
        boot_locked: bool,
        pairing_methods: tuple[int, ...] = DEBUG_PAIRING_METHODS,
    ) -> None:
        self._device = device
        self._pairing_methods = pairing_methods
        self._host, self._port, self._fault = host, port, fault
        self._auto_lock_seconds = auto_lock_seconds
        self._link: UdpLink | None = None
        self._awaiting_boot_pin = boot_locked
        self._last_activity = time.monotonic()
        self._selector = selectors.DefaultSelector()
        self._control_buffer = b""

    def run(self, control_fd: int) -> None:
        """Serve until SIGTERM or SIGINT; handlers are in place before the first line."""
        wakeup_read, wakeup_write = socket.socketpair()
        wakeup_write.setblocking(False)
        signal.set_wakeup_fd(wakeup_write.fileno())
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda _signum, _frame: None)
        self._selector.register(wakeup_read, selectors.EVENT_READ, "signal")
        try:
            self._selector.register(control_fd, selectors.EVENT_READ, "control")
        except (OSError, ValueError):
            LOG.debug("stdin cannot be watched (closed or /dev/null): no control lines")
        try:
            self._announce()
            self._loop()
        finally:
            self._unbind()
            self._selector.close()
            wakeup_read.close()
            wakeup_write.close()

    def _loop(self) -> None:
        """Dispatch events until a signal arrives."""
        while True:
            events = self._selector.select(self._seconds_to_auto_lock())
            if not events:
                self._device.auto_lock()
            # A host that sent ButtonAck and then pressed over DebugLink meant that
            # order: datagrams waiting on both ports are read wire port first.
            for key, _ in sorted(events, key=lambda event: event[0].data is Channel.DEBUG):
                if key.data == "signal":
                    return
                if key.data == "control":
                    self._read_control(key.fd)
                elif self._link is not None:
                    assert isinstance(key.data, Channel)
                    if key.data is Channel.WIRE:
                        self._last_activity = time.monotonic()
                    self._link.receive(key.data)

    def _seconds_to_auto_lock(self) -> float | None:
        """How long the selector may sleep before the device locks itself (None: forever)."""
        wallet = self._device.wallet
        if wallet.pin is None or not wallet.unlocked:
            return None
        return max(0.0, self._last_activity + self._auto_lock_seconds - time.monotonic())

    def _read_control(self, fd: int) -> None:
        """Control lines as they arrive; at end of input stdin is no longer watched."""
        data = os.read(fd, 4096)
        if not data:
            self._selector.unregister(fd)
            return
        self._control_buffer += data
        *lines, self._control_buffer = self._control_buffer.split(b"\n")
        for line in lines:
            self._control(line.decode(errors="replace").strip())

    def _control(self, line: str) -> None:
        """One control line (see CONTROL_HELP)."""
        command, _, argument = line.partition(" ")
        if command == "pin" and self._awaiting_boot_pin:
            if argument != self._device.wallet.pin:
                self._say("wrong-pin")
                return
            self._device.wallet.unlocked = True
            self._awaiting_boot_pin = False
        elif command == "power-cycle":
            self._unbind()
            self._device.power_cycle()
            wallet = self._device.wallet
            self._awaiting_boot_pin = self._device.info.is_core and wallet.pin is not None
        elif command == "wipe":
            self._device.factory_reset()
            self._awaiting_boot_pin = False
        else:
            # The line itself is not echoed: it may hold a PIN.
            self._say(f"error: unknown or untimely control command {command!r}")
            return
        self._announce()

    def _announce(self) -> None:
        """Bind the ports unless the boot PIN is awaited, and say which it is."""
        if self._awaiting_boot_pin:
            self._say("boot-locked")
            return
        if self._link is None:
            try:
                self._link = self._bind()
            except OSError as exc:
                sys.exit(
                    f"trezor-backup-sim: cannot bind {self._host}:{self._port}/"
                    f"{self._port + 1}: {exc}"
                )
            for channel, sock in self._link.sockets.items():
                self._selector.register(sock, selectors.EVENT_READ, channel)
        self._last_activity = time.monotonic()
        self._say(f"ready udp:{self._host}:{self._port}")

    def _bind(self) -> UdpLink:
        """The ports: THP on the wire port of a Safe 7, protocol v1 elsewhere."""
        if self._device.info.thp:
            return ThpLink(
                self._device, self._port, self._host, pairing_methods=self._pairing_methods
            )
        return UdpLink(self._device, self._port, self._host, self._fault)

    def _unbind(self) -> None:
        """Close both ports, as a device without USB has none."""
        if self._link is None:
            return
        for sock in self._link.sockets.values():
            self._selector.unregister(sock)
        self._link.close()
        self._link = None

    @staticmethod
    def _say(line: str) -> None:
        """One status line on stdout."""
        LOG.debug("control: %s", line)
        print(line, flush=True)
