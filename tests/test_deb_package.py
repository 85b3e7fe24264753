"""The Debian package, proven on a clean system: `make deb` builds it, lintian finds no error,
then it is installed with apt into a fresh Debian 12 root made by debootstrap, where the
installed daemon reads the installed simulator on a session bus of its own and
`trezor-backupctl status --json` shows it; `apt purge` must then leave none of its files.

Needs root (debootstrap, chroot, mounts) and Debian's archive; CI runs as root, so it fails,
not skips, without them. The debootstrap'd root is cached as a tarball under CI_CACHE (outside
the checkout), and so are the .debs apt downloads; every run unpacks a pristine copy.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim_helpers import free_port_pair

ROOT = Path(__file__).resolve().parent.parent
CI_CACHE = Path(os.environ.get("TREZOR_BACKUP_GUARD_CI_CACHE", "/var/cache/trezor-backup-guard-ci"))
MIRROR = "http://deb.debian.org/debian"
BASE_TARBALL = CI_CACHE / "bookworm-minbase.tar"
PRIVATE_DIR = "/usr/lib/trezor-backup-guard"


def clean_env() -> dict[str, str]:
    """The environment without the test session's bus, preload and XDG directories."""
    drop = ("LD_PRELOAD", "UMOCKDEV", "DBUS_", "XDG_", "VIRTUAL_ENV", "PYTHON")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    env["LC_ALL"] = "C.UTF-8"
    return env


def run(args: list[str], timeout: float, **kwargs: object) -> str:
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env=clean_env(), **kwargs
    )  # type: ignore[call-overload]
    output = f"$ {' '.join(args)}\n{done.stdout}{done.stderr}"
    assert done.returncode == 0, output
    return str(output)


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.geteuid() != 0:
        pytest.fail("this test needs root (debootstrap, chroot); CI runs the tests as root")
    work = tmp_path_factory.mktemp("deb")
    run(
        ["make", "--no-print-directory", "deb", f"DEB_OUT={work}", f"DEB_BUILD={work}/build"],
        timeout=900,
        cwd=ROOT,
    )
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
def ci_cache() -> Iterator[Path]:
    """The cache, held for the whole module: a second test run on the machine (another
    checkout) waits instead of sharing apt's download directory, whose lock apt takes."""
    CI_CACHE.mkdir(parents=True, exist_ok=True)
    with (CI_CACHE / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield CI_CACHE


@pytest.fixture(scope="module")
def base_root(ci_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A pristine Debian 12 root: unpacked from the cached debootstrap tarball (made first)."""
    if not BASE_TARBALL.exists():
        bootstrap = ci_cache / "bootstrap"
        shutil.rmtree(bootstrap, ignore_errors=True)
        run(["debootstrap", "--variant=minbase", "bookworm", str(bootstrap), MIRROR], 1200)
        run(["tar", "-C", str(bootstrap), "-cf", f"{BASE_TARBALL}.part", "."], 300)
        os.replace(f"{BASE_TARBALL}.part", BASE_TARBALL)
        shutil.rmtree(bootstrap)
    root = tmp_path_factory.mktemp("bookworm") / "root"
    root.mkdir()
    run(["tar", "-C", str(root), "-xf", str(BASE_TARBALL)], 300)
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
        "trezor-backup-sim.1.gz",
        "trezor-backupctl.1.gz",
        "trezor-backupd.1.gz",
    ]


def test_installs_runs_and_purges_on_a_fresh_debian_12(deb: Path, base_root: Path) -> None:
    root = base_root
    (root / "tmp" / deb.name).write_bytes(deb.read_bytes())
    shutil.copy(ROOT / "tests/deb_install_check.sh", root / "tmp/check.sh")
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    archives = CI_CACHE / "apt-archives"
    (archives / "partial").mkdir(parents=True, exist_ok=True)
    mounts = " && ".join(
        [
            f"mount -t proc proc {root}/proc",
            f"mount --rbind /dev {root}/dev",
            f"mount --rbind -o ro /sys {root}/sys",
            f"mount --bind {archives} {root}/var/cache/apt/archives",
        ]
    )
    port = free_port_pair()
    started = time.monotonic()
    output = run(
        [
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", f'{mounts} && exec chroot "$0" sh /tmp/check.sh "$1" "$2"',
            str(root), f"/tmp/{deb.name}", str(port),
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
        "/usr/bin/trezor-backup-sim",
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

    def left_behind(path: str) -> bool:
        """A file, link or (in the private directory) directory of the package still there.
        Shared directories such as /usr/bin stay, of course."""
        target = root / path.lstrip("/")
        if path.startswith(PRIVATE_DIR):
            return os.path.lexists(target)
        return target.is_symlink() or target.is_file()

    left = [path for path in installed if left_behind(path)]
    assert left == [], f"left behind by apt purge: {left}"
    assert not (root / PRIVATE_DIR.lstrip("/")).exists()
    print(f"chroot install, run and purge: {time.monotonic() - started:.0f} s")
