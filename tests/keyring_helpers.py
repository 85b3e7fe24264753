"""gnome-keyring-daemon as the Secret Service of a private bus, for the tests and bench/.

A Safe 7's pairing credential is kept only in the session's Secret Service, so everything that
pairs one needs a real keyring on its bus, never the desktop's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SECRETS = "org.freedesktop.secrets"
READY_TIMEOUT_SECONDS = 10


@contextmanager
def gnome_keyring(
    home: Path, bus_address: str, password: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """gnome-keyring-daemon (its Secret Service only) on the bus at `bus_address`, its files
    under `home`, from the moment it owns its name to the end of the block.

    With `password` its login keyring is created or unlocked with it, as a login does, and is
    the default; without, a login keyring already in `home` stays locked, and in a new `home`
    there is no default keyring at all.
    """
    runtime = home / "run"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DBUS_SESSION_BUS_ADDRESS": bus_address,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_RUNTIME_DIR": str(runtime),
    }
    env.pop("DISPLAY", None)  # it needs no X server, and must not end with the tests' Xvfb
    argv = ["gnome-keyring-daemon", "--components=secrets", "--foreground"]
    with open(home / "gnome-keyring.log", "ab") as log:  # why it ended, should it end early
        keyring = subprocess.Popen(
            [*argv, "--unlock"] if password is not None else argv,
            stdin=subprocess.PIPE, stdout=log, stderr=log, env=env,
        )  # fmt: skip
    try:
        assert keyring.stdin is not None
        keyring.stdin.write((password or "").encode())
        keyring.stdin.close()
        waited = subprocess.run(
            ["gdbus", "wait", "--session", "--timeout", str(READY_TIMEOUT_SECONDS), SECRETS],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        if waited.returncode != 0 or keyring.poll() is not None:
            raise RuntimeError(f"gnome-keyring-daemon did not come up: {waited.stderr.strip()}")
        if password is not None:
            _await_login_keyring(env, keyring)
        yield keyring
    finally:
        keyring.send_signal(signal.SIGTERM)
        keyring.wait()


def _await_login_keyring(env: dict[str, str], keyring: subprocess.Popen[bytes]) -> None:
    """Until the login keyring is the default one.

    gnome-keyring-daemon owns its name before it has made the login keyring from the password:
    a pairing in between would find no default keyring and be refused. Nothing is signalled
    to a client that is not yet subscribed, so the alias is asked for until it is set.
    """
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    read_alias = [
        "gdbus", "call", "--session", "--dest", SECRETS,
        "--object-path", "/org/freedesktop/secrets",
        "--method", "org.freedesktop.Secret.Service.ReadAlias", "default",
    ]  # fmt: skip
    while True:
        answer = subprocess.run(read_alias, env=env, capture_output=True, text=True)
        if answer.returncode == 0 and "'/'" not in answer.stdout:
            return
        if time.monotonic() > deadline or keyring.poll() is not None:
            raise RuntimeError("gnome-keyring-daemon made no login keyring from the password")
        time.sleep(0.02)


LOGIN_KEYRING = "/org/freedesktop/secrets/collection/login"


def lock_login_keyring() -> None:
    """Lock the login keyring of the Secret Service on this process's session bus, as "Lock"
    in a keyring manager (or a screen lock set up so) does."""
    subprocess.run(
        ["gdbus", "call", "--session", "--dest", SECRETS, "--object-path",
         "/org/freedesktop/secrets", "--method", "org.freedesktop.Secret.Service.Lock",
         f"['{LOGIN_KEYRING}']"],
        check=True, capture_output=True,
    )  # fmt: skip


def unlock_login_keyring(password: str) -> None:
    """Unlock it again with its password, as a login does. Service.Unlock would show a
    prompt, and there is no prompter here: gnome-keyring's own interface takes the password."""
    from secretstorage import dbus_init
    from secretstorage.util import DBusAddressWrapper, format_secret, open_session

    connection = dbus_init()
    try:
        keyring = DBusAddressWrapper(
            "/org/freedesktop/secrets",
            "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface",
            connection,
        )
        secret = format_secret(open_session(connection), password.encode(), "text/plain")
        keyring.call("UnlockWithMasterPassword", "o(oayays)", LOGIN_KEYRING, secret)
    finally:
        connection.close()
