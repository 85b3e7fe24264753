"""trezor-backupd: wiring and lifecycle of the daemon.

Start-up order matters: the bus objects are exported and udev is watched before the bus
name is taken, and the first scan gets a moment to finish, so that a client activated by
D-Bus (or a `Type=dbus` unit) sees the devices that are already plugged in.
"""

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from dbus_fast import BusType, RequestNameReply
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusError

from trezor_backup_api import __version__
from trezor_backup_api.i18n import _, speak_for_argparse
from trezor_backup_api.names import BUS_NAME, device_path
from trezor_backup_api.paths import config_path, state_dir

from .bus.agents import AgentRegistry
from .bus.dbus_service import BusPublisher, ManagerObject, OperationGate
from .device.device_node_watch import DeviceNodeWatch
from .device.device_tracker import DeviceIO, DeviceTracker
from .device.operations import OperationManager
from .device.udev_watch import UdevWatcher
from .store.config import (
    Config,
    ConfigError,
    parse_config,
    parse_emulator_endpoint,
    read_config_file,
)
from .store.config_watch import ConfigWatch
from .store.history import HistoryStore, HistoryUnavailable
from .store.known_devices import KnownDevices
from .store.thp_credentials import CredentialStore

LOG = logging.getLogger("trezor_backupd")

COLDPLUG_WAIT_SECONDS = 3.0
"""How long start-up waits for already-plugged devices before taking the bus name."""

EXIT_CONFIG = 78  # EX_CONFIG
EXIT_NAME_TAKEN = 75  # EX_TEMPFAIL: another instance owns the name


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    speak_for_argparse()
    parser = argparse.ArgumentParser(
        prog="trezor-backupd",
        description=_(
            "Watch connected Trezor hardware wallets and serve the state of their recovery-seed "
            "backup on the session D-Bus as {bus_name}. Usually started by systemd --user or "
            "by D-Bus activation; see trezor-backupctl for the command line client."
        ).format(bus_name=BUS_NAME),
        epilog=_(
            "Configuration: $XDG_CONFIG_HOME/trezor-backup-guard/config.toml. "
            "History: $XDG_STATE_HOME/trezor-backup-guard/history.sqlite3. "
            "Exit codes: 0 stopped cleanly, {name_taken} another instance is running, "
            "{bad_config} bad configuration."
        ).format(name_taken=EXIT_NAME_TAKEN, bad_config=EXIT_CONFIG),
    )
    parser.add_argument(
        "--emulator",
        metavar="udp:HOST:PORT",
        action="append",
        default=[],
        type=_endpoint_argument,
        help=_(
            "also watch a Trezor emulator (or trezor-backup-sim) at this address; repeatable. "
            "An emulator is read once when it is found (which ends a flow another program "
            "runs on a core emulator at that moment), then only after this daemon's own "
            "operations and on Refresh: use it for development only."
        ),
    )
    parser.add_argument("--config", type=Path, help=_("read this config file instead"))
    parser.add_argument(
        "--check-config",
        action="store_true",
        help=_(
            "only read and validate the config file: print what is wrong (file, line, key) "
            "and exit with {bad_config}, or exit 0 when it is fine (trezor-backupctl and "
            "its doctor ask this)"
        ).format(bad_config=EXIT_CONFIG),
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("TREZOR_BACKUPD_LOG_LEVEL", "info"),
        choices=["debug", "info", "warning", "error"],
        help=_("how much to log to standard error (default: info)"),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def _endpoint_argument(text: str) -> str:
    try:
        return parse_emulator_endpoint(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class JournalFormatter(logging.Formatter):
    """Prefix each line with its syslog priority (``<4>``) so journald keeps the level."""

    PRIORITIES: ClassVar[dict[int, int]] = {
        logging.CRITICAL: 2,
        logging.ERROR: 3,
        logging.WARNING: 4,
        logging.INFO: 6,
    }

    def format(self, record: logging.LogRecord) -> str:
        return f"<{self.PRIORITIES.get(record.levelno, 7)}>{super().format(record)}"


def setup_logging(level: str) -> None:
    """Log to stderr; under systemd (JOURNAL_STREAM set) in the form journald understands."""
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # trezorlib logs message contents at DEBUG; they must never reach our log.
    logging.getLogger("trezorlib").setLevel(logging.WARNING)


def _node_watch(on_released: Callable[[str], None]) -> DeviceNodeWatch | None:
    """The watch that says when another program lets go of a device, or None (with a log
    line) when inotify is out of instances: devices are then read again only on Refresh."""
    try:
        return DeviceNodeWatch(on_released)
    except OSError as error:
        LOG.warning(
            "Cannot watch device nodes (%s): a change made in another app shows only after "
            "trezor-backupctl status --refresh or a replug",
            error,
        )
        return None


def open_history() -> tuple[HistoryStore | None, str]:
    """The history store, or None and why (also logged) when the state dir is unusable."""
    try:
        return HistoryStore(state_dir()), ""
    except HistoryUnavailable as error:
        LOG.error("Running without history (checks will not be remembered): %s", error)
        return None, str(error)


def _with_arguments(config: Config, emulators: tuple[str, ...]) -> Config:
    """The file's settings plus the emulators given with --emulator."""
    return dataclasses.replace(config, emulators=tuple(dict.fromkeys(config.emulators + emulators)))


async def serve(
    file: Config,
    path: Path,
    raw: bytes | None,
    emulators: tuple[str, ...],
    device_io: DeviceIO | None = None,
) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code. `file` holds the settings read from
    `raw`, the bytes of the config file at `path` (None: there is none); `device_io` is the
    device layer (trezorlib's unless a test hands another)."""
    config = _with_arguments(file, emulators)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    history, history_problem = open_history()
    bus = await MessageBus(bus_type=BusType.SESSION).connect()
    tracker: DeviceTracker | None = None
    watcher: UdevWatcher | None = None
    node_watch = _node_watch(lambda path: tracker.node_released(path) if tracker else None)
    try:
        publisher = BusPublisher(bus)
        forget_pairing = CredentialStore().forget_device
        known = KnownDevices(publisher, history, config, forget_pairing=forget_pairing)
        tracker = DeviceTracker(
            config,
            history,
            known,
            node_watch=node_watch,
            forget_pairing=forget_pairing,
            device_io=device_io,
        )
        agents = AgentRegistry(bus, config, device_path)
        await agents.start()
        operations = OperationManager(tracker, history, agents, publisher)
        gate = OperationGate(operations, agents, tracker)
        poller: asyncio.Task[None] | None = None

        def apply(new: Config) -> None:
            """A saved config.toml: every part reads `config`, then what depends on it now."""
            nonlocal poller
            assert tracker is not None
            config.adopt(_with_arguments(new, emulators))
            tracker.reclassify()  # a new re-check interval
            tracker.request_rescan(usb=False)  # emulators added or removed
            if config.emulators and poller is None:
                poller = loop.create_task(tracker.poll_emulators())
            elif not config.emulators and poller is not None:
                poller.cancel()
                poller = None

        manager: ManagerObject | None = None

        def told() -> None:
            if manager is not None:
                manager.config_changed()

        config_watch = ConfigWatch(path, raw, apply, told)
        manager = ManagerObject(tracker, history, gate, history_problem, known, config_watch)
        publisher.export_manager(manager, gate)

        watcher = UdevWatcher(tracker.usb_event)
        for event in watcher.start(loop):
            tracker.usb_event(event)
        coldplug = loop.create_task(tracker.settle())
        await asyncio.wait({coldplug}, timeout=COLDPLUG_WAIT_SECONDS)
        if config.emulators:
            poller = loop.create_task(tracker.poll_emulators())

        reply = await bus.request_name(BUS_NAME)
        if reply not in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER):
            LOG.error("Another trezor-backupd already owns %s on this bus; exiting", BUS_NAME)
            return EXIT_NAME_TAKEN
        LOG.info(
            "trezor-backupd %s serving %s with %d device(s)",
            __version__,
            BUS_NAME,
            len(tracker.devices()),
        )
        disconnected = loop.create_task(bus.wait_for_disconnect())  # type: ignore[no-untyped-call]
        stopped = loop.create_task(stop.wait())
        await asyncio.wait({disconnected, stopped}, return_when=asyncio.FIRST_COMPLETED)
        lost_bus = disconnected.done()
        if lost_bus:
            LOG.error("Lost the session bus; exiting")
        else:
            LOG.info("Stopping")
        await operations.close()
        config_watch.close()
        for task in (poller, coldplug, disconnected, stopped):
            if task is not None:
                task.cancel()
        return 1 if lost_bus else 0
    finally:
        if watcher is not None:
            watcher.stop()
        if tracker is not None:
            tracker.close()
        if node_watch is not None:
            node_watch.close()
        bus.disconnect()
        if history is not None:
            history.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging(args.log_level)
    path = config_path() if args.config is None else args.config
    try:
        raw = read_config_file(path)
        config = parse_config(path, raw)
    except ConfigError as error:
        if args.check_config:
            print(error, file=sys.stderr)
        else:
            LOG.error("%s", error)
        sys.exit(EXIT_CONFIG)
    if args.check_config:
        sys.exit(0)
    try:
        sys.exit(asyncio.run(serve(config, path, raw, tuple(args.emulator))))
    except DBusError as error:
        LOG.error("D-Bus error: %s", error)
        sys.exit(1)
    except OSError as error:
        LOG.error("Cannot connect to the session bus: %s", error)
        sys.exit(1)
