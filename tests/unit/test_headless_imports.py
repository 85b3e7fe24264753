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

IMPORT_ALL = """
import importlib, importlib.abc, pkgutil, sys

FORBIDDEN = {forbidden!r}

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            raise ImportError(f"{{name}} must not be imported here")
        return None

sys.meta_path.insert(0, Refuse())
package = importlib.import_module({package!r})
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    if not module.name.endswith("__main__"):
        importlib.import_module(module.name)
loaded = sorted(name for name in sys.modules if name.split(".")[0] in FORBIDDEN)
assert not loaded, loaded
print("imported", package.__name__)
"""


def import_all(package: str, forbidden: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    code = IMPORT_ALL.format(package=package, forbidden=forbidden)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


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
