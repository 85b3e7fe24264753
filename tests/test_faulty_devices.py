"""A misbehaving device (the simulator's fault modes): garbage, truncated and oversized
frames, an unknown message type, the wrong reply, no reply. Each is reported with a clear
state and explanation (a well-formed reply that is not Features, or none, says the device
is busy or in a flow; only one that cannot be decoded is `unknown`), the daemon stays
responsive for a healthy device beside it, and its memory stays bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import DaemonFactory
from harness import get_devices, running
from sim_helpers import start_simulator

HEALTHY_ID = "600D00000000000000000001"
RSS_LIMIT_KIB = 120 * 1024


@pytest.mark.parametrize(
    ("fault", "state", "words"),
    [
        ("garbage", "unknown", "does not understand"),
        ("unknown_type", "unknown", "does not understand"),
        ("wrong_reply", "busy", "in a flow"),
        ("truncated", "busy", "in a flow"),
        ("oversized", "busy", "in a flow"),
        ("silent", "busy", "in a flow"),
    ],
)
def test_a_broken_device_is_reported_and_the_healthy_one_is_served(
    make_daemon: DaemonFactory, fault: str, state: str, words: str
) -> None:
    with (
        start_simulator("one", "backed_up", fault=fault) as broken,
        start_simulator("t", "backup_required", device_id=HEALTHY_ID) as healthy,
    ):
        daemon = make_daemon(broken.path, healthy.path)
        with running(daemon):
            devices = {d["Transport"]: d for d in get_devices()}
            assert devices[healthy.path]["State"] == "backup_required"
            bad = devices[broken.path]
            assert bad["State"] == state
            assert words in bad["Explanation"]
            assert bad["Id"].startswith("at_udp_")
            assert daemon.process is not None
            status = Path(f"/proc/{daemon.process.pid}/status").read_text()
            rss = int(status.split("VmRSS:")[1].split()[0])
            assert rss < RSS_LIMIT_KIB
