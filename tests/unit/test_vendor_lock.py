"""The Debian package's two sources of Python code agree with what the program requires.

The private environment holds exactly the wheels of the lock (debian/vendor-requirements.txt,
made by `make vendor-lock` from debian/vendor-requirements.in) and sees the python3-* packages
debian/control declares. A requirement of pyproject.toml must be met by one of the two: a pin
in its range, or a declared Debian package. (Whether their own requirements are met too is the
build's check, debian/check-requirements.sh, in the clean root.)
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
DEBIAN = ROOT / "debian"
DEBIAN_NAMES = {"pillow": "python3-pil", "hidapi": "python3-hid", "libusb1": "python3-usb1"}
"""Python distribution -> Debian package, where Debian's name is not python3-<name>."""


def pins(text: str) -> dict[str, str]:
    return {
        canonicalize_name(name): version
        for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==([^\s#\\]+)", text, re.MULTILINE)
    }


def lock_text() -> str:
    return (DEBIAN / "vendor-requirements.txt").read_text()


def declared(field: str) -> set[str]:
    """The python3-* packages of one relationship field of debian/control."""
    control = (DEBIAN / "control").read_text()
    value = re.search(rf"^{field}:(.*?)(?=^\S)", control, re.MULTILINE | re.DOTALL)
    assert value, field
    return set(re.findall(r"\bpython3-[a-z0-9.+-]+", value.group(1)))


def test_the_lock_pins_exactly_the_input_each_with_its_hashes() -> None:
    lock = lock_text()
    assert lock.splitlines()[:2] == ["--require-hashes", "--only-binary :all:"]
    assert pins(lock) == pins((DEBIAN / "vendor-requirements.in").read_text())
    assert "pycparser" in pins(lock)
    entries = re.split(r"^(?=[A-Za-z0-9])", lock, flags=re.MULTILINE)
    pinned = [entry for entry in entries if "==" in entry.split("\n")[0]]
    assert len(pinned) == len(pins(lock))
    for entry in pinned:
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), entry.split()[0]


def test_every_requirement_of_the_program_is_locked_in_range_or_declared_from_debian() -> None:
    locked = {name: Version(version) for name, version in pins(lock_text()).items()}
    depends, build_depends = declared("Depends"), declared("Build-Depends")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(line) for line in project["dependencies"]]
    # The extras asked for (trezor[hidapi]) bring requirements of their own.
    for requirement in list(requirements):
        for extra in requirement.extras:
            for line in metadata.requires(requirement.name) or []:
                extra_requirement = Requirement(line)
                marker = extra_requirement.marker
                if marker and marker.evaluate({"extra": extra}):
                    requirements.append(extra_requirement)

    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name in locked:
            assert locked[name] in requirement.specifier, (name, str(requirement.specifier))
        else:
            package = DEBIAN_NAMES.get(name, f"python3-{name}")
            assert package in depends and package in build_depends, (name, package)


def test_the_build_root_holds_every_python_package_the_installed_one_depends_on() -> None:
    """The build's check reads Depends, the clean root installs Build-Depends."""
    assert declared("Depends") <= declared("Build-Depends")
