"""The Debian package, proven on clean systems: `make deb` builds it in a clean Debian 12
root that holds only the declared Build-Depends (debian/clean-root.sh), and fails there, naming
it, when a dependency is missing from debian/control or a locked wheel changed on the index;
lintian finds no error; then it is installed with apt into a fresh Debian 12 root made by
debootstrap, where the installed daemon reads a simulated Trezor (the checkout's simulator, run
beside the root: the package does not ship it) on a session bus of its own and
`trezor-backupctl status --json` shows it; `apt purge` must then leave none of its files.

Needs root (debootstrap, chroot, mounts) and Debian's archive and PyPI; CI runs as root, so it
fails, not skips, without them. The roots are cached as tarballs under CACHE (outside the
checkout, shared with `make deb`), and so are the .debs apt downloads; every run unpacks a
pristine copy.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sim_helpers import start_simulator

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("TREZOR_BACKUP_GUARD_CACHE", "/var/cache/trezor-backup-guard"))
PRIVATE_DIR = "/usr/lib/trezor-backup-guard"


def clean_env() -> dict[str, str]:
    """The environment without the test session's bus, preload and XDG directories."""
    drop = ("LD_PRELOAD", "UMOCKDEV", "DBUS_", "XDG_", "VIRTUAL_ENV", "PYTHON")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    env["LC_ALL"] = "C.UTF-8"
    return env


def attempt(
    args: list[str], timeout: float, extra_env: dict[str, str] | None = None, **kwargs: object
) -> tuple[int, str]:
    """Runs a command in the clean environment; its exit status and what it printed."""
    env = {**clean_env(), **(extra_env or {})}
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, **kwargs)  # type: ignore[call-overload]
    return done.returncode, f"$ {' '.join(args)}\n{done.stdout}{done.stderr}"


def run(args: list[str], timeout: float, **kwargs: object) -> str:
    code, output = attempt(args, timeout, None, **kwargs)
    assert code == 0, output
    return output


def make_deb(source: Path, out: Path, extra_env: dict[str, str] | None = None) -> tuple[int, str]:
    """`make deb` of the checkout at `source` (the clean root is cached; its first build
    downloads a Debian 12 root and the build tools)."""
    args = ["make", "--no-print-directory", "deb", f"DEB_OUT={out}"]
    return attempt(args, 1500, extra_env, cwd=source)


def checkout_copy(destination: Path) -> Path:
    """The checkout's files (tracked and new), as `make deb` would take them, outside git."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True, cwd=ROOT,
    ).stdout.split(b"\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name.decode()
        if source.is_file():
            target = destination / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


@pytest.fixture(scope="module", autouse=True)
def as_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("these tests need root (debootstrap, chroot); CI runs the tests as root")


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("deb")
    code, output = make_deb(ROOT, work)
    assert code == 0, output
    version = subprocess.run(
        ["dpkg-parsechangelog", "-S", "Version", "-l", str(ROOT / "debian/changelog")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    package = work / f"trezor-backup-guard_{version}_{arch}.deb"
    assert package.is_file(), sorted(p.name for p in work.iterdir())
    return package


@pytest.fixture(scope="module")
def install_cache() -> Iterator[Path]:
    """apt's downloads for the install test, held for the whole module: a second test run on
    the machine (another checkout) waits instead of sharing the directory, whose lock apt
    takes. (`make deb` serialises its own use of the cache.)"""
    archives = CACHE / "install-archives"
    (archives / "partial").mkdir(parents=True, exist_ok=True)
    with (CACHE / "install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield archives


@pytest.fixture(scope="module")
def base_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A pristine minimal Debian 12 root, unpacked from the one `make deb` builds in (made by
    debootstrap on first use)."""
    made = subprocess.run(
        ["sh", "debian/clean-root.sh", "base"],
        capture_output=True, text=True, timeout=1200, env=clean_env(), cwd=ROOT,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    tarball = made.stdout.strip()
    root = tmp_path_factory.mktemp("bookworm") / "root"
    root.mkdir()
    run(["tar", "-C", str(root), "-xf", tarball], 300)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_lintian_finds_no_error_or_warning(deb: Path) -> None:
    run(["lintian", "--fail-on", "error,warning", "--tag-display-limit", "0", str(deb)], 600)


def test_metainfo_and_desktop_files_validate(deb: Path, tmp_path: Path) -> None:
    run(["dpkg-deb", "-x", str(deb), str(tmp_path)], 60)
    share = tmp_path / "usr/share"
    run(["appstreamcli", "validate", "--no-net", *map(str, (share / "metainfo").iterdir())], 60)
    desktop_files = [
        *(share / "applications").iterdir(),
        *(tmp_path / "etc/xdg/autostart").iterdir(),
    ]
    run(["desktop-file-validate", *map(str, desktop_files)], 60)
    pages = sorted(p.name for p in (share / "man/man1").iterdir())
    assert pages == [
        "trezor-backup-applet.1.gz",
        "trezor-backupctl.1.gz",
        "trezor-backupd.1.gz",
    ]


def test_installs_runs_and_purges_on_a_fresh_debian_12(
    deb: Path, base_root: Path, install_cache: Path
) -> None:
    root = base_root
    (root / "tmp" / deb.name).write_bytes(deb.read_bytes())
    shutil.copy(ROOT / "tests/deb_install_check.sh", root / "tmp/check.sh")
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    archives = install_cache
    mounts = " && ".join(
        [
            f"mount -t proc proc {root}/proc",
            f"mount --rbind /dev {root}/dev",
            f"mount --rbind -o ro /sys {root}/sys",
            f"mount --bind {archives} {root}/var/cache/apt/archives",
        ]
    )
    started = time.monotonic()
    # The root shares this machine's network, so the daemon in it reaches this simulator.
    with start_simulator("one", "backup_required", label="Chroot Trezor") as simulator:
        output = run(
            [
                "unshare", "--mount", "--propagation", "private", "--",
                "sh", "-c", f'{mounts} && exec chroot "$0" sh /tmp/check.sh "$1" "$2"',
                str(root), f"/tmp/{deb.name}", str(simulator.port),
            ],
            timeout=900,
        )  # fmt: skip
    result = root / "tmp/result"
    assert (result / "purged").exists(), output

    devices = json.loads((result / "status.json").read_text())["devices"]
    assert [(d["model"], d["label"], d["state"]) for d in devices] == [
        ("One", "Chroot Trezor", "backup_required")
    ], output
    # D-Bus activation ran the activation file's Exec, in the private environment's Python.
    daemon_args = (result / "daemon-cmdline").read_text().split()
    assert daemon_args[:2] == [f"{PRIVATE_DIR}/bin/python", "/usr/bin/trezor-backupd"], output
    assert (result / "applet-help.txt").read_text().startswith("usage: trezor-backup-applet")

    installed = (result / "installed-files").read_text().split()
    for expected in (
        "/usr/bin/trezor-backupd",
        "/usr/bin/trezor-backupctl",
        "/usr/bin/trezor-backup-applet",
        "/usr/lib/systemd/user/trezor-backupd.service",
        "/usr/share/dbus-1/services/io.github.TrezorBackupGuard.service",
        "/usr/share/dbus-1/interfaces/io.github.TrezorBackupGuard.xml",
        "/usr/lib/udev/rules.d/70-trezor-backup-guard.rules",
        "/usr/share/applications/io.github.TrezorBackupGuard.Applet.desktop",
        "/etc/xdg/autostart/io.github.TrezorBackupGuard.Applet-autostart.desktop",
        "/usr/share/metainfo/io.github.TrezorBackupGuard.Applet.metainfo.xml",
        "/usr/share/icons/hicolor/256x256/apps/io.github.TrezorBackupGuard.Applet.png",
        "/usr/share/man/man1/trezor-backupctl.1.gz",
    ):
        assert expected in installed
    for lang in ("cs", "de", "es", "fr"):
        assert any(p.endswith(f"/{lang}/LC_MESSAGES/trezor-backup-guard.mo") for p in installed)
    # The simulator is a tool for tests and demos, not part of the product.
    assert not [path for path in installed if "trezor_backup_sim" in path or "-sim" in path]

    def left_behind(path: str) -> bool:
        """A file, link or (in the private directory) directory of the package still there.
        Shared directories such as /usr/bin stay, of course."""
        target = root / path.lstrip("/")
        if path.startswith(PRIVATE_DIR):
            return os.path.lexists(target)
        return target.is_symlink() or target.is_file()

    assert (result / "enabled-units").read_text() == "", "the user unit is enabled for everyone"
    assert (result / "units-after-purge").read_text() == ""
    left = [path for path in installed if left_behind(path)]
    assert left == [], f"left behind by apt purge: {left}"
    assert not (root / PRIVATE_DIR.lstrip("/")).exists()
    print(f"chroot install, run and purge: {time.monotonic() - started:.0f} s")


def test_a_dependency_missing_from_debian_control_fails_the_build_naming_it(
    tmp_path: Path,
) -> None:
    """The clean root holds only what debian/control declares, so a Python package the
    program needs and control forgets fails the build on every machine (not only on one
    that lacks it by chance), with the package named."""
    source = checkout_copy(tmp_path / "src")
    control = source / "debian/control"
    lines = control.read_text().splitlines(keepends=True)
    control.write_text("".join(line for line in lines if "python3-click" not in line))

    code, output = make_deb(source, tmp_path / "out")

    assert code != 0, output
    assert "requires click, which is not installed" in output
    assert "Missing: click. Declare its Debian package (python3-click?)" in output
    assert not list((tmp_path / "out").glob("*.deb"))


def test_a_locked_wheel_changed_on_the_index_fails_the_build(tmp_path: Path) -> None:
    """An index (here a local mirror of PyPI) that serves a wheel whose bytes differ from the
    lock's hashes stops the build before the wheel is installed."""
    index = tmp_path / "simple"
    wheels = tmp_path / "wheels"
    lock = ROOT / "debian/vendor-requirements.txt"
    # The locked wheels as PyPI serves them (hash-checked on the way), laid out as a simple
    # index: http.server's directory listing is a valid index page.
    run(
        [sys.executable, "-m", "pip", "download", "--isolated", "--no-deps", "--dest",
         str(wheels), "--requirement", str(lock)],
        timeout=600,
    )  # fmt: skip
    for wheel in wheels.iterdir():
        name = re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()
        (index / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(wheel, index / name / wheel.name)
    (changed,) = (index / "zipp").iterdir()
    changed.write_bytes(changed.read_bytes() + b"\0")

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Requests are not worth a line of test output."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=tmp_path))
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    try:
        port = server.server_address[1]
        code, output = make_deb(
            ROOT, tmp_path / "out", {"PIP_INDEX_URL": f"http://127.0.0.1:{port}/simple/"}
        )
    finally:
        server.shutdown()
        serving.join()
        server.server_close()

    assert code != 0, output
    assert "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE" in output
    assert re.search(r"zipp==4\.1\.2 from http://127\.0\.0\.1:\d+/simple/zipp/", output), output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.deb"))
