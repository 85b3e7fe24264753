"""The build compiles the translations (po/, `po/compile.sh`) into the contract package's
locale/ folder, so a wheel built from this tree by pip, pipx, `make install` or the Debian
package carries them. It needs GNU gettext's msgfmt; without it the build says so and the
programs speak English."""

import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithCatalogues(build_py):
    def run(self) -> None:
        if shutil.which("msgfmt") is None:
            print("msgfmt (GNU gettext) not found: building without translations", file=sys.stderr)
        else:
            locale = ROOT / "api" / "trezor_backup_api" / "locale"
            subprocess.run(["sh", str(ROOT / "po" / "compile.sh"), str(locale)], check=True)
        super().run()


setup(cmdclass={"build_py": BuildWithCatalogues})
