"""`trezor-backupctl setup --user`: the session integration for a pip or pipx install.

A distribution package (or `make install`) puts the systemd user unit and the D-Bus activation
file into /usr; someone who installed with pip has neither, so nothing would start the daemon.
This writes both into the user's XDG directories, pointing at the `trezor-backupd` of this very
installation, and names the one step that needs root: the udev rules, which only root can
install and without which only root may open a Trezor. `--uninstall` removes what setup wrote.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from trezor_backup_api.i18n import _
from trezor_backupctl.conventions import ACTIVATION_NAME, PROG, UNIT_NAME

RULES_NAME = "70-trezor-backup-guard.rules"
DAEMON_SCRIPT = "trezor-backupd"
SYSTEMCTL_TIMEOUT_SECONDS = 30


class SetupError(Exception):
    """Setup cannot proceed; the message says why and what to do."""


@dataclass(frozen=True)
class UserFiles:
    """Where setup writes, following the XDG base directory spec."""

    unit: Path
    activation: Path


def _xdg_dir(variable: str, default_under_home: str) -> Path:
    value = os.environ.get(variable, "")
    return Path(value) if value and Path(value).is_absolute() else Path.home() / default_under_home


def user_files() -> UserFiles:
    """The unit under $XDG_CONFIG_HOME and the activation file under $XDG_DATA_HOME."""
    return UserFiles(
        unit=_xdg_dir("XDG_CONFIG_HOME", ".config") / "systemd" / "user" / UNIT_NAME,
        activation=_xdg_dir("XDG_DATA_HOME", ".local/share")
        / "dbus-1"
        / "services"
        / ACTIVATION_NAME,
    )


def packaged_file(name: str) -> Path:
    """A file shipped in this package's data directory (copies of systemd/ and udev/)."""
    return Path(str(files("trezor_backupctl") / "data" / name))


def daemon_executable() -> Path:
    """The trezor-backupd installed beside this interpreter: a venv's or pipx's bin, or --user's.

    The running interpreter's own scripts directory comes first, so a pipx or venv install
    never picks up another installation that happens to be earlier on PATH.
    """
    candidates = [Path(sysconfig.get_path("scripts")) / DAEMON_SCRIPT]
    user_scheme = f"{os.name}_user"
    if user_scheme in sysconfig.get_scheme_names():
        candidates.append(Path(sysconfig.get_path("scripts", user_scheme)) / DAEMON_SCRIPT)
    found = shutil.which(DAEMON_SCRIPT)
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate.absolute()
    raise SetupError(
        _("cannot find {program} (looked in {places})").format(
            program=DAEMON_SCRIPT, places=", ".join(map(str, candidates))
        )
    )


def render(template: str, executable: Path) -> str:
    """The template with @bindir@ replaced, as `make install` does for packagers."""
    bindir = str(executable.parent)
    if any(char.isspace() or char in "%\"'\\" for char in bindir):
        # systemd and dbus-daemon split Exec lines on whitespace and expand % specifiers.
        raise SetupError(
            _(
                "{directory} holds a space, a quote or a percent sign: install into a plainer path"
            ).format(directory=bindir)
        )
    return template.replace("@bindir@", bindir)


def rules_command() -> str:
    """The single root command that installs and applies the udev rules."""
    return (
        f"sudo install -m 644 {packaged_file(RULES_NAME)} /etc/udev/rules.d/ && "
        "sudo udevadm control --reload && sudo udevadm trigger --subsystem-match=usb "
        "--subsystem-match=hidraw"
    )


def _systemctl(*args: str) -> str | None:
    """Run `systemctl --user ARGS`; None when it worked, else why it did not."""
    if shutil.which("systemctl") is None:
        return _("systemctl is not installed")
    try:
        done = subprocess.run(
            ["systemctl", "--user", *args],
            capture_output=True,
            text=True,
            timeout=SYSTEMCTL_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return _("{command} did not finish").format(command=f"systemctl --user {' '.join(args)}")
    if done.returncode == 0:
        return None
    return done.stderr.strip() or _("exit status {code}").format(code=done.returncode)


def install_user() -> None:
    """Write the unit and activation file, reload the user manager, print the root step."""
    executable = daemon_executable()
    paths = user_files()
    for template, target in ((UNIT_NAME, paths.unit), (ACTIVATION_NAME, paths.activation)):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(packaged_file(template).read_text(), executable))
        print(_("wrote {file}").format(file=target))
    problem = _systemctl("daemon-reload")
    if problem is None:
        print(_("reloaded the systemd user manager"))
    else:
        print(
            _(
                "could not reload the systemd user manager ({problem});\n"
                "  in your desktop session run: systemctl --user daemon-reload"
            ).format(problem=problem)
        )
    print(_("To start the daemon at every login: systemctl --user enable --now trezor-backupd"))
    print()
    print(
        _(
            "One step needs root: the udev rules that let you (not only root) open a Trezor and\n"
            "start the daemon when one is plugged in. Run once:\n"
            "  {command}"
        ).format(command=rules_command())
    )


def uninstall_user() -> None:
    """Disable the unit if the manager is reachable, then remove the two files setup wrote."""
    paths = user_files()
    if paths.unit.exists():
        problem = _systemctl("disable", "--now", UNIT_NAME)
        if problem is not None:
            print(_("could not disable {unit} ({problem})").format(unit=UNIT_NAME, problem=problem))
    for target in (paths.unit, paths.activation):
        if target.exists():
            target.unlink()
            print(_("removed {file}").format(file=target))
    if _systemctl("daemon-reload") is None:
        print(_("reloaded the systemd user manager"))
    rules = Path("/etc/udev/rules.d") / RULES_NAME
    if rules.exists():
        print(_("The udev rules stay; remove them as root: sudo rm {file}").format(file=rules))


def run(args: argparse.Namespace) -> int:
    """The `setup` subcommand; returns the exit code."""
    try:
        if args.uninstall:
            uninstall_user()
        else:
            install_user()
    except (SetupError, OSError) as error:
        print(f"{PROG} setup: {error}", file=sys.stderr)
        return 1
    return 0
