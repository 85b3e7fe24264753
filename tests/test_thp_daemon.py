"""A Safe 7 (THP) end to end: the daemon, the simulator over UDP, a real Secret Service
(gnome-keyring on the test bus) and the CLI as its own process, the owner on DebugLink.

Unpaired it is `pairing_required`; `trezor-backupctl pair` pairs it (the code read from the
Trezor's screen over DebugLink, typed into the CLI's prompt), the autoconnect credential
lands in the keyring; after a restart of the Trezor its status is read with no
confirmation; a dry run and a backup go over THP. A wrong code, a refusal and a wipe each
end with nothing usable kept. No code or credential appears in any output (seed safety).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from trezorlib import messages
from trezorlib.transport.udp import UdpTransport

from trezor_backup_api.names import BUS_NAME, MANAGER_INTERFACE, ROOT_PATH
from trezor_backupd import thp_session
from trezor_backupd.thp_credentials import CredentialStore

import seed_safety
from conftest import DaemonFactory
from harness import (
    DEVICE_ID,
    EVENT_TIMEOUT,
    LineReader,
    OwnerRun,
    busctl,
    get_devices,
    history,
    rogue_agent_calls,
    running,
)
from sim_helpers import HOST, HostPort, Simulator, start_simulator

SECRET = "7c" * 32
WORDS12 = "alcohol woman abuse must during monitor noble actual mixed trade anger aisle"
CODE_PROMPT = "Code shown on your Trezor"


def keyring() -> CredentialStore:
    """The test keyring, emptied of earlier tests' pairings."""
    store = CredentialStore()
    for credential in store.credentials():
        store.forget(credential.trezor_pubkey)
    return store


@contextmanager
def safe7(state: str = "backed_up", **options: Any) -> Iterator[Simulator]:
    with start_simulator(
        "safe7",
        state,
        device_id=DEVICE_ID,
        thp_secret=SECRET,
        mnemonic=WORDS12,
        pairing_methods="code-entry",
        **options,
    ) as sim:
        yield sim


def pair_through_the_cli(
    sim: Simulator,
    refuse: bool = False,
    wrong: bool = False,
    at_code_prompt: Callable[[subprocess.Popen[str]], str | None] | None = None,
) -> str:
    """`trezor-backupctl pair` with a person at the keyboard and at the Trezor; its output.

    `at_code_prompt` may act when the code is asked, and say what is typed instead of the
    code on the Trezor's screen ("" for nothing)."""
    screen = HostPort(sim.debug_port)
    process = subprocess.Popen(
        [sys.executable, "-m", "trezor_backupctl", "pair"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    reader = LineReader(process)
    seed_safety.produced("trezor-backupctl pair scrollback", lambda: "\n".join(reader.seen))
    assert process.stdin is not None
    while True:
        try:
            line = reader.wait_for(lambda _line: True)
        except AssertionError:  # the output ended
            break
        if line.startswith(CODE_PROMPT):
            typed = at_code_prompt(process) if at_code_prompt is not None else None
            if typed is None:
                info = screen.call(messages.DebugLinkGetPairingInfo())
                assert isinstance(info, messages.DebugLinkPairingInfo)
                typed = f"{(info.code_entry_code or 0) + wrong:06}"
            if not typed:
                continue  # the person types nothing
            code = typed
            seed_safety.typed(code)
            with suppress(BrokenPipeError):  # the CLI may have ended already
                process.stdin.write(code[:3] + " " + code[3:] + "\n")  # grouped as shown
                process.stdin.flush()
        elif "Confirm on your Trezor" in line:
            button = messages.DebugButton.NO if refuse else messages.DebugButton.YES
            screen.send(messages.DebugLinkDecision(button=button))
    process.wait(timeout=EVENT_TIMEOUT)
    screen.close()
    output = "\n".join(reader.seen)
    return f"exit {process.returncode}\n{output}"


def kept_credentials(store: CredentialStore) -> int:
    found = store.credentials()
    for credential in found:
        seed_safety.binary_secrets(credential.host_privkey, credential.credential)
    return len(found)


def refresh() -> None:
    busctl("call", BUS_NAME, ROOT_PATH, MANAGER_INTERFACE, "Refresh")


def test_pair_then_status_check_and_a_silent_read_after_a_restart(
    make_daemon: DaemonFactory, secret_service: Path
) -> None:
    store = keyring()
    with safe7() as sim, running(make_daemon(sim.path)) as daemon:
        [device] = get_devices()
        assert (device["State"], device["Model"]) == ("pairing_required", "Safe 7")
        assert "pair" in device["NextStep"]
        output = pair_through_the_cli(sim)
        assert output.startswith("exit 0"), output
        assert "Paired" in output
        assert kept_credentials(store) == 1
        refresh()  # the read after the pairing may still run when the CLI ends
        [device] = get_devices()
        assert (device["State"], device["Id"]) == ("unverified", DEVICE_ID)
        # Unplugged and plugged again: read with the autoconnect credential, no dialog.
        assert sim.control("power-cycle") == sim.ready_line
        refresh()
        [device] = get_devices()
        assert (device["State"], device["Label"]) == ("unverified", "My Trezor")
        owner = OwnerRun(sim, "check", "--typed", WORDS12)
        assert owner.finished()["result"] == "passed"
        assert [d["State"] for d in get_devices()] == ["verified"]
        assert history() == [("check", "passed")]
        seed_safety.assert_no_secret(output, daemon.log())


def test_a_backup_over_thp(make_daemon: DaemonFactory, secret_service: Path) -> None:
    keyring()
    with safe7("backup_required") as sim, running(make_daemon(sim.path)):
        assert pair_through_the_cli(sim).startswith("exit 0")
        refresh()
        assert [d["State"] for d in get_devices()] == ["backup_required"]
        owner = OwnerRun(sim, "backup")
        assert owner.finished()["result"] == "completed"
        assert [d["State"] for d in get_devices()] == ["unverified"]


def test_a_wrong_code_a_refusal_and_a_wipe_leave_it_unpaired(
    make_daemon: DaemonFactory, secret_service: Path
) -> None:
    store = keyring()
    with safe7() as sim, running(make_daemon(sim.path)) as daemon:
        wrong = pair_through_the_cli(sim, wrong=True)
        assert wrong.startswith("exit 3") and "did not match" in wrong, wrong
        refused = pair_through_the_cli(sim, refuse=True)
        assert refused.startswith("exit 3") and "refused on the Trezor" in refused, refused
        assert kept_credentials(store) == 0
        assert [d["State"] for d in get_devices()] == ["pairing_required"]
        assert pair_through_the_cli(sim).startswith("exit 0")
        assert sim.control("wipe") == sim.ready_line  # a new device secret: a new identity
        refresh()
        assert [d["State"] for d in get_devices()] == ["pairing_required"]
        seed_safety.assert_no_secret(wrong, refused, daemon.log())


def test_only_the_daemon_may_ask_the_cli_for_a_pairing_code(
    make_daemon: DaemonFactory, secret_service: Path
) -> None:
    """While the CLI waits for the code, another process asking its agent for a pairing code
    gets AccessDenied and no second prompt appears (docs/security.md)."""
    keyring()
    calls: list[dict[str, object]] = []

    def rogue(process: subprocess.Popen[str]) -> None:
        calls.extend(
            rogue_agent_calls(
                "--pairing-code",
                "--pid",
                str(process.pid),
                "/io/github/TrezorBackupGuard/ctl/agent",
                f"/io/github/TrezorBackupGuard/devices/{get_devices()[0]['Id']}",
            )
        )

    with safe7() as sim, running(make_daemon(sim.path)):
        output = pair_through_the_cli(sim, at_code_prompt=rogue)
    assert [call["error"] for call in calls] == ["org.freedesktop.DBus.Error.AccessDenied"]
    assert output.startswith("exit 0") and output.count(CODE_PROMPT) == 1, output


def test_a_locked_safe7_is_locked_until_unlocked_on_the_device(
    make_daemon: DaemonFactory, secret_service: Path
) -> None:
    """A locked Safe 7 refuses a new connection: `locked`, never a PIN keyboard from a read;
    `unlock` connects asking to unlock, and the PIN is typed on the Trezor."""
    store = keyring()
    pin = "2589"
    seed_safety.typed(pin)
    with safe7(pin=pin) as sim, running(make_daemon(sim.path)):
        assert pair_through_the_cli(sim).startswith("exit 0")
        # Another app (trezorctl lock) locks it, over its own channel.
        transport = UdpTransport(f"{HOST}:{sim.port}")
        with thp_session.connected(transport, store.credentials()) as client:
            thp_session.session_of(client).call(messages.LockDevice())
        refresh()
        [device] = get_devices()
        assert (device["State"], device["Locked"]) == ("locked", True)
        assert "unlock" in device["NextStep"]
        unlock = subprocess.Popen(
            [sys.executable, "-m", "trezor_backupctl", "unlock"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        reader = LineReader(unlock)
        reader.wait_for(lambda line: "Enter your PIN on your Trezor" in line)
        screen = HostPort(sim.debug_port)
        time.sleep(0.3)  # the handshake reaches the Trezor, which shows its PIN keyboard
        screen.send(messages.DebugLinkDecision(input=pin))
        assert unlock.wait(timeout=EVENT_TIMEOUT) == 0, "\n".join(reader.seen)
        screen.close()
        refresh()
        [device] = get_devices()
        assert (device["State"], device["Locked"]) == ("unverified", False)


def test_unplugged_or_cancelled_while_the_code_is_asked_keeps_nothing(
    make_daemon: DaemonFactory, secret_service: Path
) -> None:
    store = keyring()
    with safe7() as sim, running(make_daemon(sim.path)):
        # Ctrl-C at the code prompt: the daemon cancels, the code is never asked again.
        def interrupt(process: subprocess.Popen[str]) -> str | None:
            process.send_signal(signal.SIGINT)
            return ""

        cancelled = pair_through_the_cli(sim, at_code_prompt=interrupt)
        assert cancelled.startswith("exit 3") and "cancelled" in cancelled, cancelled

        # The Trezor unplugged (its emulator gone) while the owner reads the code.
        def unplug(_process: subprocess.Popen[str]) -> str | None:
            sim.process.terminate()
            sim.process.wait()
            return "123456"

        gone = pair_through_the_cli(sim, at_code_prompt=unplug)
        assert gone.startswith("exit 3") and "disconnected" in gone, gone
    assert kept_credentials(store) == 0
