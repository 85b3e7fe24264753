"""Unplugging mid-operation, fifty times in a row: every run ends `disconnected`, no
operation is left behind, no file descriptor or thread leaks, and the daemon keeps serving
another device all along."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import DaemonFactory
from harness import DEVICE_ID, OwnerRun, UsbTestbed, Watch, get_devices, history, running
from sim_helpers import free_port_pair, start_simulator

CYCLES = 50
BYSTANDER = "B0B000000000000000000000"


def _fds_and_threads(pid: int) -> tuple[int, int]:
    proc = Path(f"/proc/{pid}")
    return len(list((proc / "fd").iterdir())), len(list((proc / "task").iterdir()))


@pytest.mark.parametrize(
    ("action", "state", "stage"),
    [("check", "backed_up", "result"), ("backup", "backup_required", "show_words")],
)
def test_fifty_unplugs_mid_operation(
    make_daemon: DaemonFactory, usb: UsbTestbed, action: str, state: str, stage: str
) -> None:
    port = free_port_pair()
    with start_simulator("safe5", "backed_up", device_id=BYSTANDER) as bystander:
        daemon = make_daemon(f"udp:127.0.0.1:{port}", bystander.path)
        with running(daemon):
            assert daemon.process is not None
            baseline: tuple[int, int] | None = None
            watch = Watch()
            for cycle in range(CYCLES):
                with start_simulator("one", state, port=port, device_id=DEVICE_ID) as sim:
                    syspath = usb.plug()
                    watch.next_event("added", lambda e: e["device"]["id"] == DEVICE_ID)
                    args = ["--words", "24"] if action == "check" else []
                    owner = OwnerRun(sim, action, *args, "--hold-at", stage)
                    owner.wait_for("holding")
                    sim.process.terminate()
                    sim.process.wait()
                    usb.unplug(syspath)
                    finished = owner.finished()
                assert (finished["kind"], finished["result"]) == (action, "disconnected"), cycle
                devices = get_devices()
                assert [(d["Id"], d["Operation"]) for d in devices] == [(BYSTANDER, "")]
                if cycle == 4:  # thread pools and caches have warmed up
                    baseline = _fds_and_threads(daemon.process.pid)
            watch.stop()
            assert baseline is not None
            fds, threads = _fds_and_threads(daemon.process.pid)
            assert fds <= baseline[0] + 2, (baseline, fds)
            assert threads <= baseline[1] + 2, (baseline, threads)
            assert history() == [(action, "disconnected")] * CYCLES
