"""The install on real parts: `make install` into a DESTDIR, systemd-analyze, udevadm test on
umockdev Trezors, a real systemd user manager starting the shipped unit by D-Bus activation,
`trezor-backupctl setup --user` and `doctor`.

Several need root (mounts in a private mount namespace); CI runs as root, so they fail, not
skip, without it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import DaemonFactory
from harness import UsbTestbed, ctl, running

ROOT = Path(__file__).resolve().parent.parent
UNIT = "trezor-backupd.service"
ACTIVATION = "io.github.TrezorBackupGuard.service"
RULES = "70-trezor-backup-guard.rules"
TREZOR_IDS = [("1209", "53c1"), ("1209", "53c0"), ("534c", "0001")]
VENV_BIN = Path(sysconfig.get_path("scripts"))


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("this test needs root (mount namespaces); CI runs the tests as root")


def make(tree: Path, *args: str) -> None:
    """make in `tree` with the checkout's venv."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(tree), f"VENV={ROOT / '.venv'}", *args],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def copy_of_the_checkout(target: Path) -> Path:
    """The project's files (as they are now, committed or not) in target: building there
    leaves the checkout without build/ or egg-info."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "screenshots", "locale"
    )
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


def installed_files(tree: Path) -> set[str]:
    return {str(path.relative_to(tree)) for path in tree.rglob("*") if path.is_file()}


def test_make_install_into_destdir_is_complete_and_runs(tmp_path: Path) -> None:
    """Every file lands where packagers expect it, templated, and the installed daemon runs;
    `make uninstall` removes all of it again."""
    tree = copy_of_the_checkout(tmp_path / "tree")
    destdir = tmp_path / "destdir"
    make(tree, "install", "PREFIX=/usr", f"DESTDIR={destdir}")
    usr = destdir / "usr"
    site = Path(sysconfig.get_path("purelib", vars={"base": str(usr)}))
    for path in (
        usr / "lib/systemd/user" / UNIT,
        usr / "share/dbus-1/services" / ACTIVATION,
        usr / "share/dbus-1/interfaces/io.github.TrezorBackupGuard.xml",
        usr / "lib/udev/rules.d" / RULES,
        usr / "bin/trezor-backupd",
        usr / "bin/trezor-backupctl",
        site / "trezor_backupd/data/io.github.TrezorBackupGuard.xml",
        site / "trezor_backupctl/data" / RULES,
        # The build compiled the translations (setup.py), with no `make mo` before it.
        *(
            site / f"trezor_backup_api/locale/{lang}/LC_MESSAGES/trezor-backup-guard.mo"
            for lang in ("cs", "de", "es", "fr")
        ),
    ):
        assert path.is_file(), path
    unit = (usr / "lib/systemd/user" / UNIT).read_text()
    activation = (usr / "share/dbus-1/services" / ACTIVATION).read_text()
    assert "@bindir@" not in unit + activation
    assert "\nExecStart=/usr/bin/trezor-backupd\n" in unit
    assert "\nExec=/usr/bin/trezor-backupd\n" in activation
    assert "\nSystemdService=trezor-backupd.service\n" in activation
    assert (usr / "lib/udev/rules.d" / RULES).read_text() == (ROOT / "udev" / RULES).read_text()
    # setup --user's files: ctl's data folder links to the one copy, the wheel holds the files.
    for source in (ROOT / "systemd" / UNIT, ROOT / "systemd" / ACTIVATION, ROOT / "udev" / RULES):
        packaged = site / "trezor_backupctl/data" / source.name
        assert not packaged.is_symlink() and packaged.read_text() == source.read_text()

    helped = subprocess.run(
        [sys.executable, str(usr / "bin/trezor-backupd"), "--help"],
        env=os.environ | {"PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
    )
    assert helped.returncode == 0, helped.stderr
    assert "io.github.TrezorBackupGuard" in helped.stdout
    assert "Exit codes" in helped.stdout

    make(tree, "uninstall", "PREFIX=/usr", f"DESTDIR={destdir}")
    assert installed_files(destdir) == set()


def test_installed_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """The unit as packaged, with ExecStart pointing at an existing trezor-backupd."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    unit = tmp_path / UNIT
    text = (ROOT / "systemd" / UNIT).read_text().replace("@bindir@", str(VENV_BIN))
    unit.write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "--user", "verify", str(unit)],
        env=os.environ | {"XDG_RUNTIME_DIR": str(runtime)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert UNIT not in done.stderr, done.stderr


def udevadm_test(syspath: str) -> str:
    """`udevadm test` with only our rules, in a private mount namespace: whatever tags and
    variables it reports come from our file, not from systemd's own hardware-wallet hwdb."""
    script = (
        "set -e; for d in /etc/udev/rules.d /usr/lib/udev/rules.d /run/udev; do "
        'mkdir -p "$d"; mount -t tmpfs tmpfs "$d"; done; '
        f'cp "{ROOT / "udev" / RULES}" /etc/udev/rules.d/; '
        f'udevadm test -a add "{syspath}" 2>&1'
    )
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def properties(output: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z_]+)=(.*)$", output, re.MULTILINE))


def assert_clean(output: str) -> None:
    """No parse errors in our file, nothing world-writable, no group."""
    ours = [line for line in output.splitlines() if RULES in line and "Reading rules" not in line]
    assert ours == [], ours
    assert not re.search(r"mode=0?[0-7]{2}[2367]\b", output, re.IGNORECASE), output
    rules = (ROOT / "udev" / RULES).read_text()
    assert not re.search(r"^[^#]*\b(MODE|GROUP|OWNER)\s*:?=", rules, re.MULTILINE)


@pytest.mark.parametrize(("vendor", "product"), TREZOR_IDS)
def test_rules_grant_uaccess_and_start_the_daemon(
    usb: UsbTestbed, vendor: str, product: str
) -> None:
    require_root()
    syspath = usb.plug(vendor, product)
    output = udevadm_test(syspath)
    props = properties(output)
    assert ":uaccess:" in props.get("TAGS", ""), output
    assert ":systemd:" in props.get("TAGS", ""), output
    assert props.get("SYSTEMD_USER_WANTS") == UNIT, output
    assert_clean(output)


@pytest.mark.parametrize(("vendor", "product"), [("534c", "0001"), ("1209", "53c1")])
def test_rules_grant_uaccess_on_hidraw(usb: UsbTestbed, vendor: str, product: str) -> None:
    require_root()
    parent = usb.plug(vendor, product)
    hidraw = usb.testbed.add_device("hidraw", "hidraw0", parent, [], ["DEVNAME", "/dev/hidraw0"])
    output = udevadm_test(str(hidraw))
    props = properties(output)
    assert ":uaccess:" in props.get("TAGS", ""), output
    assert "SYSTEMD_USER_WANTS" not in props, output  # the usb_device pulls the daemon in
    assert_clean(output)


def test_rules_leave_other_devices_alone(usb: UsbTestbed) -> None:
    require_root()
    output = udevadm_test(usb.plug("1209", "0001"))  # another pid.codes device
    props = properties(output)
    assert "uaccess" not in props.get("TAGS", "") and "SYSTEMD_USER_WANTS" not in props, output
    assert_clean(output)


def test_real_user_manager_activates_and_stops_the_daemon() -> None:
    """The shipped unit (all hardening on) and activation file under a real systemd --user."""
    require_root()
    done = subprocess.run(
        [
            "unshare", "--mount", "--propagation", "private",
            sys.executable, str(ROOT / "tests" / "systemd_user_session.py"), str(VENV_BIN),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    results, _, logs = done.stdout.partition("--- daemon log")
    result = dict(line.split("=", 1) for line in results.splitlines() if "=" in line)
    context = done.stdout
    assert result["reply"].startswith("aa{sv} "), context  # GetDevices answered
    assert result["active"] == "active", context  # ... by the daemon systemd started
    assert result["history"] == "True", context  # StateDirectory= is the daemon's state dir
    assert result["after_stop"] == "inactive", context
    assert result["result"] == "success", context
    assert result["status"] == "0", context
    daemon_log = logs.partition("--- manager log")[0]
    assert "serving io.github.TrezorBackupGuard" in daemon_log, context
    assert "ERROR" not in daemon_log and "Traceback" not in daemon_log, context


def xdg_env(home: Path) -> dict[str, str]:
    env = os.environ | {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
    }
    env.pop("XDG_RUNTIME_DIR", None)
    return env


def test_setup_user_writes_and_uninstall_removes(tmp_path: Path) -> None:
    env = xdg_env(tmp_path)
    setup = subprocess.run(
        [sys.executable, "-m", "trezor_backupctl", "setup", "--user"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert setup.returncode == 0, setup.stderr
    unit = tmp_path / "config/systemd/user" / UNIT
    activation = tmp_path / "data/dbus-1/services" / ACTIVATION
    assert installed_files(tmp_path) == {
        str(unit.relative_to(tmp_path)),
        str(activation.relative_to(tmp_path)),
    }
    assert f"\nExecStart={VENV_BIN}/trezor-backupd\n" in unit.read_text()
    assert f"\nExec={VENV_BIN}/trezor-backupd\n" in activation.read_text()
    assert "ProtectSystem=strict" in unit.read_text()  # the shipped unit, hardening included
    rules_line = next(line for line in setup.stdout.splitlines() if "sudo install" in line)
    rules_path = Path(rules_line.split()[4])
    assert rules_path.read_text() == (ROOT / "udev" / RULES).read_text()
    assert "systemctl --user enable --now trezor-backupd" in setup.stdout

    removed = subprocess.run(
        [sys.executable, "-m", "trezor_backupctl", "setup", "--user", "--uninstall"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert removed.returncode == 0, removed.stderr
    assert installed_files(tmp_path) == set()


@pytest.mark.usefixtures("session_bus")
def test_doctor_names_what_is_missing() -> None:
    """On the private bus without the daemon: the daemon FAILs, the tray host WARNs."""
    done = ctl("doctor")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("FAIL daemon:") for line in lines), done.stdout
    assert any(line.startswith("WARN tray host:") for line in lines), done.stdout
    assert any(line.startswith("OK   session bus:") for line in lines), done.stdout


def test_doctor_sees_the_running_daemon(make_daemon: DaemonFactory) -> None:
    with running(make_daemon()):
        done = ctl("doctor")
    assert "OK   daemon: trezor-backupd is running" in done.stdout, done.stdout


def test_doctor_without_a_session_bus() -> None:
    env = os.environ | {"DBUS_SESSION_BUS_ADDRESS": "", "XDG_RUNTIME_DIR": ""}
    done = subprocess.run(
        [sys.executable, "-m", "trezor_backupctl", "doctor"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert any(line.startswith("FAIL session bus:") for line in done.stdout.splitlines())
