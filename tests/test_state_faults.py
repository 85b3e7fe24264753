"""The daemon's state under stress: a read-only state dir, a full disk, and kill -9 in the
middle of a thousand history writes. History is never lost or corrupted beyond the last
unfinished write, and the daemon always starts and says what it did."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from trezor_backupd.store.history import HistoryStore

from conftest import DaemonFactory
from harness import DEVICE_ID, LineReader, OwnerRun, get_devices, running
from sim_helpers import start_simulator

WRITER = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from trezor_backup_api.vocabulary import OperationKind
from trezor_backupd.store.history import HistoryStore
store = HistoryStore(Path(sys.argv[1]))
for n in range(1000):
    store.record("AB12", OperationKind.CHECK, "passed", datetime.now(UTC), detail=str(n))
    print(n, flush=True)
"""


def test_kill_9_during_a_thousand_writes_loses_at_most_the_unfinished_one(
    make_daemon: DaemonFactory, tmp_path: Path
) -> None:
    daemon = make_daemon()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(daemon.state_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    reader = LineReader(writer)
    reader.wait_for(lambda line: line == "300")
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    acknowledged = int(reader.seen[-1])
    with running(daemon):
        assert "corrupt" not in daemon.log()
    store = HistoryStore(daemon.state_dir)
    details = [int(event.detail) for event in store.events("AB12")]
    store.close()
    assert details == list(range(len(details)))  # in order, no gap, nothing corrupted
    assert acknowledged + 1 <= len(details) <= acknowledged + 2


def test_a_read_only_state_dir_means_no_history_but_a_working_daemon(
    make_daemon: DaemonFactory,
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        daemon = make_daemon(sim.path)
        daemon.state_dir.parent.mkdir(parents=True)
        daemon.state_dir.write_text("a file where the state directory should be\n")
        with running(daemon):
            assert [d["State"] for d in get_devices()] == ["unverified"]
            owner = OwnerRun(sim, "check", "--words", "24")
            assert owner.finished()["result"] == "passed"
        assert "Running without history" in daemon.log()


def test_a_full_disk_is_reported_and_the_daemon_keeps_serving(
    make_daemon: DaemonFactory, tmp_path: Path
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        daemon = make_daemon(sim.path)
        with running(daemon):  # creates the database while there is room
            pass
        # Run the daemon in a private mount namespace on a tiny tmpfs filled to the brim.
        tiny = tmp_path / "tiny"
        tiny.mkdir()
        fill = f"dd if=/dev/zero of={tiny}/filler bs=4k 2>/dev/null || true"
        daemon.wrap = [
            "unshare", "-m", "sh", "-c",
            f'mount -t tmpfs -o size=256k tmpfs {tiny} && cp -a "$XDG_STATE_HOME" {tiny}/state'
            f' && {fill} && export XDG_STATE_HOME={tiny}/state && exec "$0" "$@"',
        ]  # fmt: skip
        with running(daemon):
            [device] = get_devices()
            assert device["State"] == "unverified"
            owner = OwnerRun(sim, "check", "--words", "24")
            assert owner.finished()["result"] == "passed"
            assert [d["Operation"] for d in get_devices()] == [""]
        log = daemon.log()
        assert "Could not record the check" in log or "Running without history" in log
