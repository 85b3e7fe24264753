"""Simulated Trezors that the benchmark can switch on and off without a process start.

One process hosts several `trezor-backup-sim` devices (the simulator's own Device and UdpLink
classes, unchanged), each on its own pair of UDP ports. Commands arrive on stdin, one a line:

    up I      bind device I's ports: an emulator starts listening there ("plugged in")
    down I    close them: the emulator is gone ("unplugged")
    quit

Each command is answered with one `ok` line once it has taken effect. Switching a device is a
bind() or a close(), so a plug cycle does not pay a Python start-up (about 0.3 s) that a real
device or a running emulator never costs the daemon. The device keeps its identity and state
across cycles, like the same Trezor being replugged (a Safe 7 its THP identity, so a pairing
holds; its THP channels go with the ports, as a replugged Safe 7's do).

Usage: simhost.py PORT:DEVICE_ID[:MODEL] ...   (MODEL one, safe5 or safe7, default one; all
devices start down; a Safe 7 offers CodeEntry pairing only, as production firmware does)
"""

from __future__ import annotations

import selectors
import sys

from trezor_backup_sim.device import Channel, Device
from trezor_backup_sim.main import HOST, build_device, parse_args
from trezor_backup_sim.thp_link import PRODUCTION_PAIRING_METHODS, ThpLink
from trezor_backup_sim.udp_link import UdpLink


def _device(model: str, device_id: str) -> Device:
    """A device as `trezor-backup-sim --model MODEL --state backed_up` builds it (through the
    simulator's own parser, so every option has its default)."""
    argv = ["--model", model, "--state", "backed_up", "--device-id", device_id]
    return build_device(parse_args([*argv, "--label", "Bench"]))


def _link(device: Device, port: int) -> UdpLink:
    """The device's ports: THP on a Safe 7's wire port, as the simulator binds them."""
    if device.info.thp:
        return ThpLink(device, port, HOST, pairing_methods=PRODUCTION_PAIRING_METHODS)
    return UdpLink(device, port, HOST)


def _debug_last(event: tuple[selectors.SelectorKey, int]) -> bool:
    """Sort key, as the simulator's loop reads: a host that answered on the wire port and then
    pressed over DebugLink meant that order, so the DebugLink ports are read last."""
    data = event[0].data
    return data is not None and data[1] is Channel.DEBUG


def main(argv: list[str]) -> None:
    slots: list[tuple[int, Device]] = []
    for spec in argv:
        port, device_id, *model = spec.split(":")
        slots.append((int(port), _device(model[0] if model else "one", device_id)))
    links: dict[int, UdpLink] = {}
    selector = selectors.DefaultSelector()
    selector.register(sys.stdin, selectors.EVENT_READ, None)

    def up(index: int) -> None:
        if index in links:
            return
        port, device = slots[index]
        link = _link(device, port)
        links[index] = link
        for channel, sock in link.sockets.items():
            selector.register(sock, selectors.EVENT_READ, (link, channel))

    def down(index: int) -> None:
        link = links.pop(index, None)
        if link is None:
            return
        for sock in link.sockets.values():
            selector.unregister(sock)
        link.close()

    print("ready", flush=True)
    while True:
        for key, _ in sorted(selector.select(), key=_debug_last):
            if key.data is None:
                line = sys.stdin.readline()
                command, _, argument = line.strip().partition(" ")
                if command in ("", "quit"):
                    return
                for index in (int(i) for i in argument.split(",")):
                    (up if command == "up" else down)(index)
                print("ok", flush=True)
                continue
            link, channel = key.data
            assert isinstance(channel, Channel)
            if link in links.values():  # not switched off earlier in this same batch
                link.receive(channel)


if __name__ == "__main__":
    main(sys.argv[1:])
