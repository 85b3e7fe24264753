#!/bin/sh
# Compiles every catalogue of po/LINGUAS into OUTDIR/LANG/LC_MESSAGES/trezor-backup-guard.mo
# with GNU gettext's msgfmt --check: compile.sh OUTDIR. The one recipe of `make mo` and of the
# Python build (setup.py), so a checkout, pip, pipx, `make install` and the Debian package
# carry the same catalogues.
set -eu
out=$1
po=$(dirname "$0")
for lang in $(cat "$po/LINGUAS"); do
    mkdir -p "$out/$lang/LC_MESSAGES"
    msgfmt --check -o "$out/$lang/LC_MESSAGES/trezor-backup-guard.mo" "$po/$lang.po"
done
