"""A real systemd user manager runs the shipped unit and activation file.

Run as root inside a private mount namespace (tests/test_install.py does it with
`unshare --mount --propagation private`): PID 1 is not systemd on the test machines, and a
user manager only needs /run/systemd/system to exist, so a tmpfs goes over /run/systemd. The
session bus is the one the user manager itself provides (dbus.socket of dbus-user-session),
with systemd activation, exactly as on a desktop. A D-Bus call to io.github.TrezorBackupGuard
must then start trezor-backupd through the unit, and `systemctl --user stop` must stop it.

The home and runtime directories are tmpfs mounts at /home and /run/user, where a desktop has
them: the unit's PrivateTmp= would hide anything under /tmp from the daemon.

Usage: systemd_user_session.py BINDIR. Prints `key=value` lines for the test, then the daemon's
and the manager's logs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent
TIMEOUT = 30.0


def run(*args: str) -> str:
    """A command's stdout (stderr folded in), stripped; failures are part of the result."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT)
    return (done.stdout + done.stderr).strip()


def install_units(bindir: str, config: Path, data: Path) -> None:
    """The shipped files, @bindir@ substituted as `make install` does, in the user's XDG dirs."""
    units = config / "systemd" / "user"
    services = data / "dbus-1" / "services"
    units.mkdir(parents=True)
    services.mkdir(parents=True)
    for source, target in (
        ("trezor-backupd.service", units),
        ("io.github.TrezorBackupGuard.service", services),
    ):
        text = (SOURCE / "systemd" / source).read_text()
        (target / source).write_text(text.replace("@bindir@", bindir))
    # No journald here: the daemon's stderr goes to a file the test reads instead.
    dropin = units / "trezor-backupd.service.d"
    dropin.mkdir()
    log = config.parent / "daemon.log"
    (dropin / "log.conf").write_text(
        f"[Service]\nStandardOutput=append:{log}\nStandardError=append:{log}\n"
    )
    # A checkout under /tmp (CI clones there) is hidden by PrivateTmp=, and the venv with
    # it: bring just the checkout back in, read-only. The sandbox is otherwise the shipped one.
    if SOURCE.is_relative_to("/tmp") or SOURCE.is_relative_to("/var/tmp"):
        (dropin / "checkout-under-tmp.conf").write_text(f"[Service]\nBindReadOnlyPaths={SOURCE}\n")


def start_manager(work: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """systemd --user, returned once it says READY=1 on its notify socket (an event, no sleep)."""
    notify_path = work / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(notify_path))
        notify.settimeout(TIMEOUT)
        with (work / "manager.log").open("wb") as log:
            manager = subprocess.Popen(
                ["/lib/systemd/systemd", "--user"],
                env=env | {"NOTIFY_SOCKET": str(notify_path), "SYSTEMD_LOG_TARGET": "console"},
                stdout=log,
                stderr=log,
            )
        while b"READY=1" not in notify.recv(4096):
            pass
    return manager


def main() -> None:
    bindir = sys.argv[1]
    for mountpoint in ("/run/systemd", "/run/user", "/home"):
        Path(mountpoint).mkdir(exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", mountpoint], check=True)
    Path("/run/systemd/system").mkdir()

    home = Path("/home/tester")
    runtime = Path(f"/run/user/{os.getuid()}")
    work = Path("/run/user/test")
    work.mkdir()
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(runtime),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        DBUS_SESSION_BUS_ADDRESS=f"unix:path={runtime}/bus",
    )
    env.pop("LD_PRELOAD", None)  # umockdev's preload has no business in the user manager
    env.pop("UMOCKDEV_DIR", None)
    os.environ.clear()
    os.environ.update(env)
    home.mkdir()
    runtime.mkdir(mode=0o700)
    install_units(bindir, home / ".config", home / ".local" / "share")

    manager = start_manager(work, env)
    try:
        reply = run(
            "busctl", "--user", "--timeout=20", "call", "io.github.TrezorBackupGuard",
            "/io/github/TrezorBackupGuard", "io.github.TrezorBackupGuard.Manager1", "GetDevices",
        )  # fmt: skip
        state = home / ".local" / "state" / "trezor-backup-guard"
        print(f"reply={reply}")
        print(f"active={run('systemctl', '--user', 'is-active', 'trezor-backupd')}")
        print(f"history={(state / 'history.sqlite3').is_file()}")
        print(f"stop={run('systemctl', '--user', 'stop', 'trezor-backupd')}")
        print(f"after_stop={run('systemctl', '--user', 'is-active', 'trezor-backupd')}")
        print(f"result={run('systemctl', '--user', 'show', '-P', 'Result', 'trezor-backupd')}")
        print(
            f"status={run('systemctl', '--user', 'show', '-P', 'ExecMainStatus', 'trezor-backupd')}"
        )
    finally:
        manager.terminate()
        manager.wait(timeout=TIMEOUT)
    print("--- daemon log")
    print((home / "daemon.log").read_text(errors="replace"))
    print("--- manager log")
    print((work / "manager.log").read_text(errors="replace"))


if __name__ == "__main__":
    main()
