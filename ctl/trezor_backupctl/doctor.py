"""`trezor-backupctl doctor`: find what commonly keeps Trezor Backup Guard from working.

Each check gives OK, WARN (works, but something will be missing) or FAIL (the guard cannot
do its job), with the fix in the same line. The daemon is only asked over D-Bus, like every
other client; the rest is read from sysfs, /dev, /proc and a TCP connect, so doctor works
even when the daemon or the session bus is missing, which is when it is needed most.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trezor_backup_api.client import bus_call, call, connect_session_bus
from trezor_backup_api.daemon_errors import BusCallError, DaemonUnreachable, session_bus_address
from trezor_backup_api.i18n import N_, _, ngettext
from trezor_backup_api.names import BUS_NAME, MANAGER_INTERFACE, PROPERTIES_INTERFACE, ROOT_PATH
from trezor_backup_api.paths import config_path, state_dir
from trezor_backup_api.usb_ids import TREZOR_USB_IDS
from trezor_backupctl.session_setup import RULES_NAME, rules_command

if TYPE_CHECKING:
    from dbus_fast.aio import MessageBus

OK, WARN, FAIL = "OK", "WARN", "FAIL"
RULES_DIRS = (
    Path("/etc/udev/rules.d"),
    Path("/run/udev/rules.d"),
    Path("/usr/lib/udev/rules.d"),
    Path("/lib/udev/rules.d"),
)
SYSFS_USB = Path("/sys/bus/usb/devices")
BRIDGE_ADDRESS = ("127.0.0.1", 21325)
BUS_TIMEOUT_SECONDS = 5.0
TRAY_WATCHER = "org.kde.StatusNotifierWatcher"
NOTIFICATIONS = "org.freedesktop.Notifications"
NOTIFICATIONS_PATH = "/org/freedesktop/Notifications"
SECRETS = "org.freedesktop.secrets"
SECRETS_PATH = "/org/freedesktop/secrets"
SECRET_SERVICE = "org.freedesktop.Secret.Service"
SECRET_COLLECTION = "org.freedesktop.Secret.Collection"
KEYRING_MANAGERS = N_("GNOME: Passwords and Keys (seahorse); KDE: KWallet Manager")
RESTART = "systemctl --user restart trezor-backupd"
EXIT_CONFIG = 78  # trezor-backupd's exit status for a config file it refuses (EX_CONFIG)
_DID_NOT_SAY = N_("the daemon did not say: {reason}")


@dataclass(frozen=True)
class Finding:
    """The outcome of one check: its level, what was found and, unless OK, the fix."""

    level: str
    check: str
    message: str

    def line(self) -> str:
        return f"{self.level:<4} {self.check}: {self.message}"


def check_rules() -> Finding:
    """Our rules file in any directory udev reads."""
    for directory in RULES_DIRS:
        if (directory / RULES_NAME).is_file():
            return Finding(OK, _("udev rules"), str(directory / RULES_NAME))
    return Finding(
        FAIL,
        _("udev rules"),
        _(
            "{rules} is not installed, so only root can open a Trezor and plugging one in "
            "does not start the daemon. Fix: {command}"
        ).format(rules=RULES_NAME, command=rules_command()),
    )


def _plugged_trezors() -> Iterator[tuple[str, Path]]:
    """(sysfs name, /dev/bus/usb node) of every plugged Trezor, from sysfs alone."""
    try:
        devices = sorted(SYSFS_USB.iterdir())
    except OSError:  # no sysfs (a container), or not readable
        return
    for device in devices:
        try:
            usb_id = (
                int((device / "idVendor").read_text(), 16),
                int((device / "idProduct").read_text(), 16),
            )
            busnum = int((device / "busnum").read_text())
            devnum = int((device / "devnum").read_text())
        except (OSError, ValueError):
            continue
        if usb_id in TREZOR_USB_IDS:
            yield device.name, Path(f"/dev/bus/usb/{busnum:03d}/{devnum:03d}")


def check_device_access() -> list[Finding]:
    """Each plugged Trezor's device node must be readable and writable by this user."""
    findings = []
    for name, node in _plugged_trezors():
        if os.access(node, os.R_OK | os.W_OK):
            message = _("you can open the Trezor at USB {port} ({node})")
            findings.append(Finding(OK, _("device access"), message.format(port=name, node=node)))
        else:
            message = _(
                "the Trezor at USB {port} ({node}) cannot be opened by you: the udev rules "
                "are missing or were not applied to it. Fix: install the rules (see above), "
                "then unplug and replug the Trezor"
            )
            findings.append(Finding(FAIL, _("device access"), message.format(port=name, node=node)))
    return findings or [
        Finding(OK, _("device access"), _("no Trezor plugged in; nothing to check"))
    ]


def config_problem() -> str:
    """What the daemon finds wrong in the config file it would read ("" when nothing): asked
    of the daemon program itself (`trezor-backupd --check-config`), which this package must
    not import."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "trezor_backupd", "--check-config"],
            capture_output=True,
            text=True,
            timeout=BUS_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stderr.strip() if done.returncode == EXIT_CONFIG else ""


def check_config() -> Finding:
    """The config file the daemon reads, validated by the daemon program."""
    path = config_path()
    problem = config_problem()
    if problem:
        return Finding(
            FAIL,
            _("config"),
            _(
                "{problem}. The daemon refuses to start with it (exit status {code}); a "
                "running one keeps its earlier settings. Fix: correct that line or remove the "
                "key to use the default"
            ).format(problem=problem, code=EXIT_CONFIG),
        )
    if not os.path.lexists(path):
        return Finding(OK, _("config"), _("no {file}: the defaults apply").format(file=path))
    return Finding(OK, _("config"), _("{file} is valid").format(file=path))


def _history_finding(problem: str) -> Finding:
    if not problem:
        return Finding(OK, _("history"), _("check and backup results are saved"))
    return Finding(
        FAIL,
        _("history"),
        _(
            "check and backup results cannot be saved, so a passed check is forgotten: "
            "{problem}. Fix: make that directory writable (or free some disk space), then: "
            "{restart}"
        ).format(problem=problem, restart=RESTART),
    )


def check_state_dir() -> Finding:
    """Without a running daemon: could it create and write its state directory?"""
    directory = state_dir()
    existing = next(p for p in (directory, *directory.parents) if os.path.lexists(p))
    if not existing.is_dir():
        return _history_finding(
            _("{path} is not a directory, so {directory} cannot be made").format(
                path=existing, directory=directory
            )
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        return _history_finding(_("{path} is not writable by you").format(path=existing))
    return _history_finding("")


async def check_session(bus: MessageBus) -> list[Finding]:
    """Daemon, tray host, notification server and keyring, as names on the session bus."""
    activatable = set(await bus_call(bus, "ListActivatableNames", [], timeout=BUS_TIMEOUT_SECONDS))

    async def owned(name: str) -> bool:
        return bool(await bus_call(bus, "NameHasOwner", [name], timeout=BUS_TIMEOUT_SECONDS))

    history = check_state_dir()
    in_use: list[Finding] = []  # only a running daemon applies a config
    if await owned(BUS_NAME):
        daemon = Finding(
            OK, _("daemon"), _("trezor-backupd is running ({bus_name})").format(bus_name=BUS_NAME)
        )
        history = await check_history(bus)
        in_use.append(await check_config_in_use(bus))
    elif BUS_NAME in activatable and check_config().level == FAIL:
        daemon = Finding(
            FAIL,
            _("daemon"),
            _("not running, and D-Bus cannot start it: its config is wrong (above)"),
        )
    elif BUS_NAME in activatable:
        daemon = Finding(OK, _("daemon"), _("not running, but D-Bus starts it on first use"))
    else:
        daemon = Finding(
            FAIL,
            _("daemon"),
            _(
                "{bus_name} is neither running nor activatable. Fix: trezor-backupctl setup "
                "--user (pip/pipx installs), or reinstall the package"
            ).format(bus_name=BUS_NAME),
        )
    if await owned(TRAY_WATCHER):
        tray = Finding(OK, _("tray host"), _("{name} is present").format(name=TRAY_WATCHER))
    else:
        # An XEmbed tray (_NET_SYSTEM_TRAY_S0) would need an X11 library we do not depend on.
        tray = Finding(
            WARN,
            _("tray host"),
            _(
                "no {name} on the session bus, so the tray icon cannot show (an X11 "
                "XEmbed tray is not checked). Fix: on GNOME install and enable the AppIndicator "
                "extension (gnome-shell-extension-appindicator)"
            ).format(name=TRAY_WATCHER),
        )
    keyring = await check_keyring(bus, await owned(SECRETS), SECRETS in activatable)
    return [daemon, *in_use, history, tray, await check_notifications(bus), keyring]


async def _manager_property(bus: MessageBus, name: str) -> str:
    """A string property of the running daemon's Manager1; BusCallError when it has none."""
    reply = await call(
        bus,
        BUS_NAME,
        ROOT_PATH,
        PROPERTIES_INTERFACE,
        "Get",
        "ss",
        [MANAGER_INTERFACE, name],
        timeout=BUS_TIMEOUT_SECONDS,
        autostart=False,
    )
    return str(reply.body[0].value)


async def check_history(bus: MessageBus) -> Finding:
    """The running daemon's own word on whether it can save results (Manager1.HistoryProblem)."""
    try:
        problem = await _manager_property(bus, "HistoryProblem")
    except BusCallError as error:
        return Finding(WARN, _("history"), _(_DID_NOT_SAY).format(reason=error.text or error.name))
    return _history_finding(problem)


async def check_config_in_use(bus: MessageBus) -> Finding:
    """Whether the running daemon applies the config file as it is now: it applies each saved
    change, or refuses it and keeps its settings (Manager1.ConfigDigest and ConfigProblem)."""
    path = config_path()
    try:
        applied = await _manager_property(bus, "ConfigDigest")
        problem = await _manager_property(bus, "ConfigProblem")
    except BusCallError as error:
        return Finding(
            WARN, _("config in use"), _(_DID_NOT_SAY).format(reason=error.text or error.name)
        )
    try:
        on_disk = hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        on_disk = ""
    except OSError as error:
        return Finding(
            WARN,
            _("config in use"),
            _("{file} cannot be read: {reason}").format(file=path, reason=error.strerror),
        )
    if problem:
        return Finding(
            FAIL,
            _("config in use"),
            _(
                "the running daemon refused the file as it is now and keeps its earlier "
                "settings: {problem}. Fix: correct that line; the daemon applies the file when "
                "it is saved"
            ).format(problem=problem),
        )
    if applied == on_disk:
        if on_disk:
            applies = _("the running daemon applies {file} as it is now")
        else:
            applies = _("the running daemon applies the defaults (no {file})")
        return Finding(OK, _("config in use"), applies.format(file=path))
    return Finding(
        WARN,
        _("config in use"),
        _(
            "the running daemon does not apply {file} as it is now (it was changed where the "
            "daemon does not watch it, or the daemon is older). Fix: {restart}"
        ).format(file=path, restart=RESTART),
    )


async def check_notifications(bus: MessageBus) -> Finding:
    """A notification server that answers (starting it if it is only activatable)."""
    try:
        reply = await call(
            bus,
            NOTIFICATIONS,
            NOTIFICATIONS_PATH,
            NOTIFICATIONS,
            "GetServerInformation",
            timeout=BUS_TIMEOUT_SECONDS,
        )
    except BusCallError as error:
        return Finding(
            WARN,
            _("notifications"),
            _(
                "no {name} server answers ({reason}), so backup reminders cannot pop up. "
                "Fix: run your desktop's notification daemon (e.g. dunst, mako, or the "
                "desktop's own)"
            ).format(name=NOTIFICATIONS, reason=error.text or error.name),
        )
    name, vendor, version = (str(value) for value in reply.body[:3])
    return Finding(
        OK,
        _("notifications"),
        _("{server} {version} ({vendor}) answers").format(
            server=name, version=version, vendor=vendor
        ),
    )


async def check_keyring(bus: MessageBus, running: bool, activatable: bool) -> Finding:
    """The Secret Service, the only place a Safe 7's pairing credential is kept
    (docs/security.md): WARN, never FAIL, as no other Trezor needs it. A keyring that is not
    running is not started: doctor changes nothing, and the daemon's first use starts it."""
    if not running and activatable:
        return Finding(
            OK,
            _("keyring"),
            _(
                "{name} is not running, but D-Bus starts it on first use; until your keyring "
                "is unlocked a Safe 7 paired here is not read (pairing asks to unlock it)"
            ).format(name=SECRETS),
        )
    if not running:
        return Finding(
            WARN,
            _("keyring"),
            _(
                "no Secret Service ({name}) in this session, and a Trezor Safe 7's pairing is "
                "kept only there: a Safe 7 cannot be paired until one runs (other Trezors do "
                "not need it). Fix: install gnome-keyring (or KWallet) and log in again"
            ).format(name=SECRETS),
        )
    try:
        reply = await call(
            bus, SECRETS, SECRETS_PATH, SECRET_SERVICE, "ReadAlias", "s", ["default"],
            timeout=BUS_TIMEOUT_SECONDS, autostart=False,
        )  # fmt: skip
        collection = str(reply.body[0])
        if collection == "/":
            return Finding(
                WARN,
                _("keyring"),
                _(
                    "the Secret Service has no default keyring, where a Safe 7's pairing would "
                    "be kept, so a Safe 7 cannot be paired. Fix: create a keyring and make it "
                    "the default ({managers})"
                ).format(managers=_(KEYRING_MANAGERS)),
            )
        reply = await call(
            bus, SECRETS, collection, PROPERTIES_INTERFACE, "Get", "ss",
            [SECRET_COLLECTION, "Locked"], timeout=BUS_TIMEOUT_SECONDS, autostart=False,
        )  # fmt: skip
    except BusCallError as error:
        return Finding(
            WARN,
            _("keyring"),
            _(
                "the Secret Service does not answer ({reason}), so a Safe 7 cannot be paired. "
                "Fix: restart your keyring (gnome-keyring or KWallet)"
            ).format(reason=error.text or error.name),
        )
    if reply.body[0].value:
        return Finding(
            WARN,
            _("keyring"),
            _(
                "your default keyring is locked: until it is unlocked a Safe 7 cannot be "
                "paired, and one paired here cannot be read. Fix: unlock it ({managers}), or "
                "log in again"
            ).format(managers=_(KEYRING_MANAGERS)),
        )
    return Finding(
        OK, _("keyring"), _("the default keyring is unlocked: a Safe 7 can be paired and read")
    )


async def check_bus() -> list[Finding]:
    """The session-bus checks, or why they could not run."""
    try:
        address = session_bus_address()
        bus = await connect_session_bus(BUS_TIMEOUT_SECONDS)
    except DaemonUnreachable as error:
        skipped = _("not checked: there is no session bus")
        return [
            Finding(
                FAIL,
                _("session bus"),
                _(
                    "cannot connect ({reason}). Fix: run this inside your desktop session, "
                    "where DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus is set"
                ).format(reason=error.reason),
            ),
            *(
                Finding(WARN, _(check), skipped)
                for check in (N_("daemon"), N_("tray host"), N_("notifications"), N_("keyring"))
            ),
            check_state_dir(),
        ]
    try:
        return [Finding(OK, _("session bus"), address), *await check_session(bus)]
    except BusCallError as error:
        return [
            Finding(
                FAIL,
                _("session bus"),
                _("the bus stopped answering: {reason}").format(reason=error.text),
            )
        ]
    finally:
        bus.disconnect()


def check_bridge() -> Finding:
    """Trezor Bridge listening on its port: it may hold the device."""
    try:
        with socket.create_connection(BRIDGE_ADDRESS, timeout=1.0):
            pass
    except OSError:
        return Finding(OK, _("Trezor Bridge"), _("not running"))
    return Finding(
        WARN,
        _("Trezor Bridge"),
        _(
            "listening on {address}: while it holds the Trezor, its status shows as busy. "
            "Fix: stop Bridge when you do not need it (Suite no longer needs it)"
        ).format(address=f"{BRIDGE_ADDRESS[0]}:{BRIDGE_ADDRESS[1]}"),
    )


def _suite_processes() -> list[int]:
    """Pids whose name or command line is Trezor Suite's."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip().lower()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0", 1)[0].decode(errors="replace")
        except OSError:
            continue
        program = Path(cmdline).name.lower()
        if "trezor-suite" in comm or "trezor-suite" in program or "trezor suite" in program:
            pids.append(int(entry.name))
    return sorted(pids)


def check_suite() -> Finding:
    """Trezor Suite running: it claims the device while it is open."""
    pids = _suite_processes()
    if not pids:
        return Finding(OK, _("Trezor Suite"), _("not running"))
    return Finding(
        WARN,
        _("Trezor Suite"),
        ngettext(
            "running (pid {pids}): while it holds the Trezor, its status shows as busy. "
            "Fix: close Suite to let the guard read the device",
            "running (pids {pids}): while it holds the Trezor, its status shows as busy. "
            "Fix: close Suite to let the guard read the device",
            len(pids),
        ).format(pids=", ".join(map(str, pids))),
    )


def diagnose() -> list[Finding]:
    """Every check, in the order a user would fix things."""
    return [
        check_rules(),
        *check_device_access(),
        check_config(),
        *asyncio.run(check_bus()),
        check_bridge(),
        check_suite(),
    ]


def run(args: argparse.Namespace) -> int:
    """The `doctor` subcommand: print one line per check; 1 if any FAILed."""
    findings = diagnose()
    for finding in findings:
        print(finding.line())
    return 1 if any(finding.level == FAIL for finding in findings) else 0
