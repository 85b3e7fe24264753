"""A UDP tap between the daemon and a simulator: forwards both ways and counts what the daemon
sends, so a test can prove the daemon sent nothing into another program's flow.

The daemon is given the tap's port as its emulator; the tap relays every datagram to the
simulator's wire port from one socket of its own, and the simulator's replies back to the
daemon. Another program talks to the simulator directly, so the simulator sees two senders,
as the real emulator would with two programs on one machine.
"""

from __future__ import annotations

import selectors
import socket
import threading
from types import TracebackType

from trezorlib import messages

HOST = "127.0.0.1"


class UdpTap:
    """Relay daemon <-> simulator on loopback; `sent` counts the daemon's datagrams."""

    def __init__(self, simulator_port: int) -> None:
        self._simulator = (HOST, simulator_port)
        self._front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._front.bind((HOST, 0))
        self._back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._back.bind((HOST, 0))
        self._daemon: tuple[str, int] | None = None
        self._lock = threading.Lock()
        self._datagrams: list[bytes] = []
        self._stop_r, self._stop_w = socket.socketpair()
        self._thread = threading.Thread(target=self._relay, name="udp-tap", daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        """The emulator address to give the daemon."""
        return f"udp:{HOST}:{self._front.getsockname()[1]}"

    @property
    def sent(self) -> int:
        """How many datagrams the daemon has sent so far."""
        with self._lock:
            return len(self._datagrams)

    def messages_sent(self) -> list[str]:
        """What the daemon sent, one name per message: "PING" for the emulator's presence
        probe, else the protocol-v1 message type of each first chunk ("GetFeatures")."""
        with self._lock:
            datagrams = list(self._datagrams)
        names = []
        for datagram in datagrams:
            if datagram == b"PINGPING":
                names.append("PING")
            elif datagram.startswith(b"?##"):
                wire_type = int.from_bytes(datagram[3:5], "big")
                try:
                    names.append(messages.MessageType(wire_type).name)
                except ValueError:
                    names.append(str(wire_type))
        return names

    def _relay(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._front, selectors.EVENT_READ)
            selector.register(self._back, selectors.EVENT_READ)
            selector.register(self._stop_r, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._stop_r:
                        return
                    if key.fileobj is self._front:
                        datagram, self._daemon = self._front.recvfrom(2048)
                        with self._lock:
                            self._datagrams.append(datagram)
                        self._back.sendto(datagram, self._simulator)
                    else:
                        datagram = self._back.recv(2048)
                        if self._daemon is not None:
                            self._front.sendto(datagram, self._daemon)

    def close(self) -> None:
        """Stop relaying and release the ports."""
        self._stop_w.send(b"x")
        self._thread.join(timeout=5)
        for sock in (self._front, self._back, self._stop_r, self._stop_w):
            sock.close()

    def __enter__(self) -> UdpTap:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
