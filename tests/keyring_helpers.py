"""gnome-keyring-daemon as the Secret Service of a private bus, for the tests and bench/.

A Safe 7's pairing credential is kept only in the session's Secret Service, so everything that
pairs one needs a real keyring on its bus, never the desktop's.
"""

from __future__ import annotations

import os
import signal
import subprocess
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
    argv = ["gnome-keyring-daemon", "--components=secrets", "--foreground"]
    keyring = subprocess.Popen(
        [*argv, "--unlock"] if password is not None else argv,
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
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
        yield keyring
    finally:
        keyring.send_signal(signal.SIGTERM)
        keyring.wait()
