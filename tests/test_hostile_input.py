"""Hostile and careless D-Bus clients: wrong types, huge strings, unknown objects, bad
options, a stalled agent, and a client of another uid. Every call gets a named error and
the daemon keeps serving."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from conftest import DaemonFactory
from harness import (
    BUS_NAME,
    DEVICE,
    DEVICE_ID,
    MANAGER,
    ROOT_PATH,
    OwnerRun,
    custom_bus,
    device_path,
    gdbus,
    get_devices,
    history,
    running,
)
from sim_helpers import start_simulator

ONE_MIB = "A" * (1 << 20)


def error_name(done: subprocess.CompletedProcess[str]) -> str:
    """The D-Bus error name gdbus reports ("GDBus.Error:NAME: message")."""
    assert done.returncode != 0, done.stdout
    marker = "GDBus.Error:"
    assert marker in done.stderr, done.stderr
    return done.stderr.split(marker, 1)[1].split(":", 1)[0]


def test_every_bad_call_gets_a_named_error_and_the_daemon_survives(
    make_daemon: DaemonFactory,
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        with running(make_daemon(sim.path)):
            invalid = "org.freedesktop.DBus.Error.InvalidArgs"
            calls: list[tuple[str, str, list[str], str]] = [
                (ROOT_PATH, f"{MANAGER}.GetDevice", [ONE_MIB[:100_000]], invalid),
                (ROOT_PATH, f"{MANAGER}.GetDevice", [""], invalid),
                (ROOT_PATH, f"{MANAGER}.GetDevice", ["x/../y"], invalid),
                (ROOT_PATH, f"{MANAGER}.GetHistory", ["no such id!"], invalid),
                (device_path(), f"{DEVICE}.StartCheck", ["{'word_count': <'twelve'>}"], invalid),
                (device_path(), f"{DEVICE}.StartCheck", ["{'word_count': <uint32 0>}"], invalid),
                (device_path(), f"{DEVICE}.StartBackup", ["{'anything': <1>}"], invalid),
                (f"{ROOT_PATH}/devices/NOPE", f"{DEVICE}.StartCheck", ["{}"], ""),
                (ROOT_PATH, f"{MANAGER}.NoSuchMethod", [], ""),
                (ROOT_PATH, f"{MANAGER}.UnregisterAgent", ["/never/registered"],
                 "io.github.TrezorBackupGuard.Error.NoAgent"),
            ]  # fmt: skip
            for path, method, args, expected in calls:
                name = error_name(gdbus(path, method, *args))
                assert name.startswith("org.freedesktop.DBus.Error.") or name.startswith(
                    "io.github.TrezorBackupGuard.Error."
                ), (method, name)
                if expected:
                    assert name == expected, (method, args[:1], name)
            # Wrong argument types (gdbus would refuse to send them) and a megabyte of id.
            raw: list[tuple[str, str, str, str, list[Any]]] = [
                (ROOT_PATH, MANAGER, "GetHistory", "s", [ONE_MIB]),
                (ROOT_PATH, MANAGER, "GetDevice", "s", [ONE_MIB]),
                (ROOT_PATH, MANAGER, "GetDevice", "ss", ["42", "extra"]),
                (ROOT_PATH, MANAGER, "GetDevices", "s", ["unexpected"]),
                (ROOT_PATH, MANAGER, "RegisterAgent", "s", ["/not/an/object/path"]),
                (device_path(), DEVICE, "StartCheck", "s", ["not a dict"]),
                (device_path(), DEVICE, "StartCheck", "a{ss}", [{"word_count": "12"}]),
            ]
            for path, interface, member, signature, body in raw:
                reply = asyncio.run(raw_call(path, interface, member, signature, body))
                assert reply.message_type is MessageType.ERROR, member
                assert (reply.error_name or "").startswith("org.freedesktop.DBus.Error."), member
            assert [d["State"] for d in get_devices()] == ["unverified"]


async def raw_call(
    path: str, interface: str, member: str, signature: str, body: list[Any]
) -> Message:
    """A call exactly as given, whatever the daemon declares."""
    bus = await MessageBus(bus_type=BusType.SESSION).connect()
    try:
        reply = await bus.call(
            Message(destination=BUS_NAME, path=path, interface=interface, member=member,
                    signature=signature, body=body)
        )  # fmt: skip
        assert reply is not None
        return reply
    finally:
        bus.disconnect()


def test_an_agent_that_never_answers_times_out_and_the_check_is_cancelled(
    make_daemon: DaemonFactory,
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        daemon = make_daemon(
            sim.path, config="emulator_poll_seconds = 3600\nagent_timeout_seconds = 1\n"
        )
        with running(daemon):
            owner = OwnerRun(sim, "check", "--words", "24", "--stall-at", "RequestWord")
            owner.wait_for("stalling")
            assert owner.finished()["result"] == "cancelled"
            assert history() == [("check", "cancelled")]
            assert [d["Operation"] for d in get_devices()] == [""]


def test_an_answer_that_is_not_a_word_ends_the_check_without_a_crash(
    make_daemon: DaemonFactory,
) -> None:
    garbage = " ".join(["qqqq"] * 24)
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        with running(make_daemon(sim.path)):
            owner = OwnerRun(sim, "check", "--words", "24", "--typed", garbage)
            assert owner.finished()["result"] == "invalid_words"
            # The Trezor judged the words (docs/states.md): no valid seed was written down.
            assert [d["State"] for d in get_devices()] == ["check_failed"]


@pytest.fixture
def bus_open_to_everyone(tmp_path: Path) -> Iterator[str]:
    """A bus that admits any local user, so a client of another uid can reach the daemon."""
    if os.getuid() != 0:
        pytest.fail("this test switches to the 'nobody' user and must run as root (CI does)")
    run_dir = Path(f"/tmp/tbg-open-bus-{os.getpid()}")
    run_dir.mkdir(mode=0o755, exist_ok=True)
    socket = run_dir / "bus"
    with custom_bus(tmp_path, f"unix:path={socket}", any_user=True) as address:
        socket.chmod(0o777)
        yield address
    shutil.rmtree(run_dir, ignore_errors=True)


def test_a_client_of_another_uid_cannot_register_an_agent_or_start_operations(
    make_daemon: DaemonFactory, bus_open_to_everyone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus_open_to_everyone)
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        with running(make_daemon(sim.path)):

            def as_nobody(path: str, method: str, *args: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run(
                    ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                     "gdbus", "call", "--session", "--dest", BUS_NAME, "--object-path", path,
                     "--method", method, *args],
                    capture_output=True, text=True,
                    env={"DBUS_SESSION_BUS_ADDRESS": bus_open_to_everyone, "PATH": "/usr/bin:/bin"},
                )  # fmt: skip

            # Reading is allowed: the state is no secret on the owner's own session.
            assert as_nobody(ROOT_PATH, f"{MANAGER}.GetDevices").returncode == 0
            denied = "io.github.TrezorBackupGuard.Error.PermissionDenied"
            assert error_name(as_nobody(ROOT_PATH, f"{MANAGER}.RegisterAgent", "/evil")) == denied
            assert error_name(as_nobody(device_path(), f"{DEVICE}.StartCheck", "{}")) == denied
            assert error_name(as_nobody(device_path(), f"{DEVICE}.Cancel")) == denied
            assert [d["Operation"] for d in get_devices()] == [""]
