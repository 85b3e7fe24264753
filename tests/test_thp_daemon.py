"""A Safe 7 (THP) end to end: the daemon, the simulator over UDP, a real Secret Service
(gnome-keyring on the test bus) and the CLI as its own process, the owner on DebugLink.

Unpaired it is `pairing_required`; `trezor-backupctl pair` pairs it (the code read from the
Trezor's screen over DebugLink, typed into the CLI's prompt), the autoconnect credential
lands in the keyring; after a restart of the Trezor its status is read with no
confirmation; a dry run and a backup go over THP. A wrong code and a refusal end with
nothing kept; a wipe, a tampered credential, `trezor-backupctl unpair` and forgetting the
remembered Trezor each leave the keyring empty. A locked keyring leaves a paired Safe 7
`unknown` and its pairing kept; an item without its device id is labelled by the next read.
No code or credential appears in any output (seed safety).
"""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from trezorlib import messages
from trezorlib.debuglink import LayoutContent
from trezorlib.transport.udp import UdpTransport

from trezor_backup_api.names import BUS_NAME, MANAGER_INTERFACE, ROOT_PATH
from trezor_backupd.device import thp_session
from trezor_backupd.store.thp_credentials import CredentialStore

import seed_safety
from conftest import TEST_KEYRING_PASSWORD, DaemonFactory
from harness import (
    DEVICE_ID,
    EVENT_TIMEOUT,
    LineReader,
    OwnerRun,
    ScreenOfTrezor,
    busctl,
    ctl,
    get_devices,
    history,
    rogue_agent_calls,
    running,
)
from keyring_helpers import lock_login_keyring, unlock_login_keyring
from sim_helpers import HOST, HostPort, Simulator, free_port_pair, start_simulator
from udp_tap import UdpTap

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
    sim: ScreenOfTrezor,
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
    for line in reader.until_end():
        if line.startswith(CODE_PROMPT):
            typed = at_code_prompt(process) if at_code_prompt is not None else None
            if typed is None:
                typed = f"{shown_code(screen) + wrong:06}"
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


def shown_code(screen: HostPort) -> int:
    """The pairing code on the Trezor's screen. The official firmware draws it ("... code
    on <host> 946 243") and refuses DebugLinkGetPairingInfo without the channel's id, which
    only the daemon knows; the simulator draws nothing and gives it to that message."""
    state = screen.call(
        messages.DebugLinkGetState(wait_layout=messages.DebugWaitType.CURRENT_LAYOUT)
    )
    assert isinstance(state, messages.DebugLinkState)
    drawn = re.search(r"\b(\d{3}) ?(\d{3})\b", LayoutContent(state.tokens).screen_content())
    if drawn is not None:
        return int(drawn.group(1) + drawn.group(2))
    info = screen.call(messages.DebugLinkGetPairingInfo())
    assert isinstance(info, messages.DebugLinkPairingInfo)
    return info.code_entry_code or 0


def kept_credentials(store: CredentialStore) -> int:
    found = store.credentials()
    for credential in found:
        seed_safety.binary_secrets(credential.host_privkey, credential.credential)
    return len(found)


def refresh() -> None:
    busctl("call", BUS_NAME, ROOT_PATH, MANAGER_INTERFACE, "Refresh")


def known_ids() -> list[str]:
    reply = busctl("call", BUS_NAME, ROOT_PATH, MANAGER_INTERFACE, "GetKnownDevices")
    return [device["Id"]["data"] for device in reply["data"][0]]


def test_pair_then_status_check_a_silent_read_after_a_restart_and_a_wipe(
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
        # Wiped while plugged in: a new identity on a port that never went away. Its
        # pairing is dead and leaves the keyring; the Trezor it was is remembered, with
        # its history.
        assert sim.control("wipe") == sim.ready_line
        refresh()
        assert [d["State"] for d in get_devices()] == ["pairing_required"]
        assert kept_credentials(store) == 0
        assert DEVICE_ID in known_ids()
        assert history() == [("check", "passed")]
        assert "dead pairing was removed" in daemon.log()
        seed_safety.assert_no_secret(output, daemon.log())


def test_a_safe7_restarted_with_its_identity_is_read_without_a_confirmation(
    make_daemon: DaemonFactory, secret_service: Path
) -> None:
    """Unplugged, and a new emulator process with the same device secret plugged in: a new
    THP link, read with the autoconnect credential. Had the Trezor asked "Allow ... to
    connect?", the read would have found no answer and shown the Trezor busy."""
    keyring()
    port = free_port_pair()
    with running(make_daemon(f"udp:{HOST}:{port}")):
        with safe7(port=port) as sim:
            refresh()
            assert pair_through_the_cli(sim).startswith("exit 0")
        refresh()
        assert get_devices() == []
        with safe7(port=port):
            refresh()
            [device] = get_devices()
            assert (device["Id"], device["State"]) == (DEVICE_ID, "unverified")


def test_a_backup_over_thp(make_daemon: DaemonFactory, secret_service: Path) -> None:
    keyring()
    with safe7("backup_required") as sim, running(make_daemon(sim.path)):
        assert pair_through_the_cli(sim).startswith("exit 0")
        refresh()
        assert [d["State"] for d in get_devices()] == ["backup_required"]
        owner = OwnerRun(sim, "backup")
        assert owner.finished()["result"] == "completed"
        assert [d["State"] for d in get_devices()] == ["unverified"]


def test_a_wrong_code_and_a_refusal_leave_it_unpaired(
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
        seed_safety.assert_no_secret(wrong, refused, daemon.log())


def test_a_tampered_credential_is_removed_by_the_next_read(
    make_daemon: DaemonFactory, secret_service: Path
) -> None:
    """The credential matches the Trezor's static key, but its MAC is damaged: the handshake
    answers UNPAIRED (recorded, f1), and the read that offered it removes it."""
    store = keyring()
    with safe7() as sim, running(make_daemon(sim.path)) as daemon:
        assert pair_through_the_cli(sim).startswith("exit 0")
        [paired] = store.credentials()
        damaged = paired.credential[:-1] + bytes([paired.credential[-1] ^ 1])  # the MAC's end
        seed_safety.binary_secrets(paired.host_privkey, paired.credential, damaged)
        store.store(dataclasses.replace(paired, credential=damaged))
        assert [(c.trezor_pubkey, c.device_id) for c in store.credentials()] == [
            (paired.trezor_pubkey, DEVICE_ID)
        ]
        refresh()
        assert [d["State"] for d in get_devices()] == ["pairing_required"]
        assert kept_credentials(store) == 0
        assert "dead pairing was removed" in daemon.log()
        seed_safety.assert_no_secret(daemon.log())


def test_unpair_forgets_the_pairing_without_a_word_to_the_trezor(
    make_daemon: DaemonFactory, secret_service: Path
) -> None:
    """`trezor-backupctl unpair` (Device1.ForgetPairing): the keyring is emptied and the
    Trezor shows pairing_required, with no datagram sent to it; a second one has nothing
    to do."""
    store = keyring()
    with safe7() as sim, UdpTap(sim.port) as tap, running(make_daemon(tap.endpoint)):
        assert pair_through_the_cli(sim).startswith("exit 0")
        refresh()
        [device] = get_devices()
        assert (device["State"], device["Id"]) == ("unverified", DEVICE_ID)
        sent = tap.sent
        done = ctl("unpair", "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"device": DEVICE_ID, "paired": False}
        [device] = get_devices()
        assert device["State"] == "pairing_required"
        assert kept_credentials(store) == 0
        assert tap.sent == sent, tap.messages_sent()
        # Nothing left to remove: the daemon says so, and the CLI exits as for a refusal.
        again = ctl("unpair")
        assert again.returncode == 3 and "there is no pairing to forget" in again.stderr, again


def test_a_locked_keyring_leaves_a_paired_safe7_unknown_and_its_pairing_kept(
    make_daemon: DaemonFactory, secret_service: Path
) -> None:
    """In an autologin session the login keyring stays locked: a paired Safe 7 must not look
    unpaired (the owner would pair it again and again), nor unpair say it was never paired.
    It is `unknown` with the keyring as the way out; unlocked, it is read paired again."""
    store = keyring()
    with safe7() as sim, running(make_daemon(sim.path)) as daemon:
        assert pair_through_the_cli(sim).startswith("exit 0")
        refresh()
        assert [d["State"] for d in get_devices()] == ["unverified"]
        try:
            lock_login_keyring()
            refresh()
            [device] = get_devices()
            assert (device["State"], device["Model"]) == ("unknown", "Safe 7"), device
            assert "The desktop's keyring is locked" in device["Explanation"]
            assert device["NextStep"].startswith("Unlock your desktop's keyring"), device
            assert "status --refresh" in device["NextStep"]
            refused = ctl("unpair")
            assert refused.returncode == 3, refused
            assert "The desktop's keyring is locked" in refused.stderr, refused
            not_now = ctl("pair")  # not a second pairing of a paired Trezor
            assert not_now.returncode == 3, not_now
            assert "is paired cannot be told now. Unlock your desktop's keyring" in (
                not_now.stderr
            ), not_now
        finally:
            unlock_login_keyring(TEST_KEYRING_PASSWORD)  # the session's keyring, for the rest
        assert kept_credentials(store) == 1
        refresh()
        [device] = get_devices()
        assert (device["State"], device["Id"]) == ("unverified", DEVICE_ID)
        seed_safety.assert_no_secret(daemon.log())


def test_a_pairing_kept_without_its_device_id_is_labelled_then_unpaired(
    make_daemon: DaemonFactory, secret_service: Path
) -> None:
    """An item stored by a release before items carried the device id: the read it connects
    stores it again under the id the Trezor reports, so that unpair (and a wipe, and
    ForgetDevice) find it; unpair then really empties the keyring."""
    store = keyring()
    with safe7() as sim, running(make_daemon(sim.path)) as daemon:
        assert pair_through_the_cli(sim).startswith("exit 0")
        refresh()  # the read after the pairing may still run when the CLI ends
        [paired] = store.credentials()
        seed_safety.binary_secrets(paired.host_privkey, paired.credential)
        store.store(dataclasses.replace(paired, device_id=""))  # as an earlier release kept it
        assert [c.device_id for c in store.credentials()] == [""]
        refresh()
        assert [d["State"] for d in get_devices()] == ["unverified"]
        assert [c.device_id for c in store.credentials()] == [DEVICE_ID]
        done = ctl("unpair")
        assert done.returncode == 0, done
        assert kept_credentials(store) == 0
        seed_safety.assert_no_secret(daemon.log())


def test_forgetting_the_remembered_safe7_removes_its_pairing(
    make_daemon: DaemonFactory, secret_service: Path
) -> None:
    """A lost Trezor: once the owner forgets it (Manager1.ForgetDevice), no usable
    credential for it is left in the keyring."""
    store = keyring()
    with safe7() as sim, running(make_daemon(sim.path)):
        assert pair_through_the_cli(sim).startswith("exit 0")
        refresh()  # the read after the pairing may still run when the CLI ends
        assert [d["Id"] for d in get_devices()] == [DEVICE_ID]
        sim.process.terminate()  # unplugged, for good
        sim.process.wait()
        refresh()
        assert get_devices() == []
        assert kept_credentials(store) == 1
        busctl("call", BUS_NAME, ROOT_PATH, MANAGER_INTERFACE, "ForgetDevice", "s", DEVICE_ID)
        assert DEVICE_ID not in known_ids()
        assert kept_credentials(store) == 0


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
    """A locked Safe 7 refuses a new connection, and a read never shows a PIN keyboard:
    locked since it was read paired (never unplugged), it is still that Trezor, with its
    last unlocked state and `Locked`, as a locked Safe 5; `unlock` connects asking to
    unlock, and the PIN is typed on the Trezor."""
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
        assert (device["Id"], device["State"], device["Locked"]) == (DEVICE_ID, "unverified", True)
        assert "it is locked now" in device["Explanation"]
        unlock = subprocess.Popen(
            [sys.executable, "-m", "trezor_backupctl", "unlock"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        reader = LineReader(unlock)
        # Said once the handshake that asks to unlock has gone out to the Trezor, which
        # shows its PIN keyboard for it: a PIN typed earlier would go to its lock screen.
        reader.wait_for(lambda line: "Enter your PIN on your Trezor" in line)
        screen = HostPort(sim.debug_port)
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


def test_a_code_never_typed_times_out_and_a_new_pairing_works(
    make_daemon: DaemonFactory, secret_service: Path
) -> None:
    """The owner walks away from the code prompt: the agent's time runs out, nothing is
    kept, and the Trezor is not left stuck: the next pairing succeeds."""
    store = keyring()
    config = "emulator_poll_seconds = 3600\nagent_timeout_seconds = 1\n"
    with safe7() as sim, running(make_daemon(sim.path, config=config)):
        abandoned = pair_through_the_cli(sim, at_code_prompt=lambda _process: "")
        assert abandoned.startswith("exit 3") and "No answer came" in abandoned, abandoned
        assert [d["State"] for d in get_devices()] == ["pairing_required"]
        assert kept_credentials(store) == 0
        assert pair_through_the_cli(sim).startswith("exit 0")
        assert kept_credentials(store) == 1
