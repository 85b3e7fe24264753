"""The layers look only down: the command line and the applet load without trezorlib, udev,
USB or the daemon, and the contract package loads without any of the programs.

Each check imports every module of a package in a fresh interpreter whose `sys.meta_path`
refuses the forbidden modules (as Solaar tests its headless imports), so an import hidden in
a function body that runs at import time, or a transitive one, fails too.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

DEVICE_STACK = ("trezorlib", "trezor_backupd", "pyudev", "usb", "usb1")
PROGRAMS = ("trezor_backupd", "trezor_backupctl", "trezor_backup_applet", "trezor_backup_sim")

GUARDED = """
import importlib, importlib.abc, pkgutil, sys

FORBIDDEN = {forbidden!r}

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            raise ImportError(f"{{name}} must not be imported here")
        return None

sys.meta_path.insert(0, Refuse())
{body}
loaded = sorted(name for name in sys.modules if name.split(".")[0] in FORBIDDEN)
assert not loaded, loaded
print("imported", {what!r})
"""

WALK_PACKAGE = """
package = importlib.import_module({package!r})
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    if not module.name.endswith("__main__"):
        importlib.import_module(module.name)
"""


def run_guarded(
    body: str, what: str, forbidden: tuple[str, ...]
) -> subprocess.CompletedProcess[str]:
    """Run `body` in a fresh interpreter that refuses to import `forbidden`."""
    code = GUARDED.format(forbidden=forbidden, body=body, what=what)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def import_all(package: str, forbidden: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """Every module of `package`."""
    return run_guarded(WALK_PACKAGE.format(package=package), package, forbidden)


def import_modules(
    modules: tuple[str, ...], forbidden: tuple[str, ...]
) -> subprocess.CompletedProcess[str]:
    """Just these modules, and whatever they pull in."""
    body = "".join(f"importlib.import_module({module!r})\n" for module in modules)
    return run_guarded(body, ", ".join(modules), forbidden)


@pytest.mark.parametrize("package", ["trezor_backupctl", "trezor_backup_applet"])
def test_the_clients_import_nothing_of_trezorlib_udev_usb_or_the_daemon(package: str) -> None:
    done = import_all(package, DEVICE_STACK)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"imported {package}"


def test_the_contract_imports_none_of_the_programs() -> None:
    done = import_all("trezor_backup_api", DEVICE_STACK + PROGRAMS)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported trezor_backup_api"


def test_the_check_itself_catches_a_forbidden_import() -> None:
    done = import_all("trezor_backupd", ("trezorlib",))
    assert done.returncode != 0
    assert "trezorlib" in done.stderr and "must not be imported here" in done.stderr


BUS_SIDE = (
    "trezor_backupd.bus.dbus_service",
    "trezor_backupd.bus.agents",
    "trezor_backupd.store.history",
    "trezor_backupd.store.known_devices",
)
DEVICE_SIDE = (
    "trezor_backupd.device.device_io",
    "trezor_backupd.device.device_ops",
    "trezor_backupd.device.device_tracker",
    "trezor_backupd.device.device_node_watch",
    "trezor_backupd.device.udev_watch",
    "trezor_backupd.device.status",
    "trezor_backupd.device.operations",
    "trezor_backupd.device.operation_slot",
    "trezor_backupd.device.pairing_memory",
)


def test_the_daemons_bus_side_imports_nothing_of_trezorlib_udev_or_usb() -> None:
    done = import_modules(BUS_SIDE, ("trezorlib", "pyudev", "usb", "usb1"))
    assert done.returncode == 0, done.stderr


def test_the_daemons_device_side_imports_nothing_of_d_bus() -> None:
    done = import_modules(DEVICE_SIDE, ("dbus_fast",))
    assert done.returncode == 0, done.stderr
