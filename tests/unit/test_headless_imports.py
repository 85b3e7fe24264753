"""The layers look only down: the command line and the applet load without trezorlib, udev,
USB or the daemon, and the contract package loads without any of the programs.

Each check imports every module of a package in a fresh interpreter whose `sys.meta_path`
refuses the forbidden modules (as Solaar tests its headless imports), so an import hidden in
a function body that runs at import time, or a transitive one, fails too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DEVICE_STACK = ("trezorlib", "trezor_backupd", "trezor_backup_sim", "pyudev", "usb", "usb1")
PROGRAMS = ("trezor_backupd", "trezor_backupctl", "trezor_backup_applet", "trezor_backup_sim")
"""Each program has a top-level folder of its own: daemon/, ctl/, applet/, sim/ (and the
contract, api/); docs/architecture.md maps them."""

GUARDED = """
import importlib, importlib.abc, pkgutil, sys

FORBIDDEN = {forbidden!r}

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
            raise ImportError(f"{{name}} must not be imported here")
        return None

sys.meta_path.insert(0, Refuse())
{body}
loaded = sorted(
    name for name in sys.modules if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
)
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


DAEMON = Path(__file__).resolve().parents[2] / "daemon" / "trezor_backupd"
NO_DEVICE_STACK = ("trezorlib", "pyudev", "usb", "usb1")
LAYER_RULES: dict[str, tuple[str, ...]] = {
    # Keeps the config, the history, the remembered devices and the pairing credentials: it
    # knows nothing of devices or of the bus.
    "store": (*NO_DEVICE_STACK, "dbus_fast", "trezor_backupd.device", "trezor_backupd.bus"),
    # Talks to Trezors and models their status: nothing of D-Bus.
    "device": ("dbus_fast", "trezor_backupd.bus"),
    # Serves the bus: nothing of trezorlib, udev, USB or the device side.
    "bus": (*NO_DEVICE_STACK, "trezor_backupd.device"),
}
"""What each folder of the daemon must not import: the layers look only down (store, then
device, then bus; main.py wires them)."""
WIRING = {"__init__.py", "__main__.py", "main.py", "device_values.py"}
"""The daemon's modules outside the layer folders: the wiring and the values every layer
shares."""


def layer_folders() -> list[str]:
    return sorted(p.name for p in DAEMON.iterdir() if (p / "__init__.py").is_file())


def test_every_module_of_the_daemon_is_in_a_layer_folder_or_the_wiring() -> None:
    assert layer_folders() == sorted(LAYER_RULES)
    assert {p.name for p in DAEMON.glob("*.py")} == WIRING


@pytest.mark.parametrize("layer", layer_folders())
def test_each_layer_of_the_daemon_imports_nothing_above_it(layer: str) -> None:
    done = import_all(f"trezor_backupd.{layer}", LAYER_RULES[layer])
    assert done.returncode == 0, done.stderr


def test_the_check_tells_one_daemon_folder_from_another() -> None:
    """The device side uses the store; forbidding the store alone must fail it."""
    done = import_all("trezor_backupd.device", ("trezor_backupd.store",))
    assert done.returncode != 0
    assert "trezor_backupd.store" in done.stderr
