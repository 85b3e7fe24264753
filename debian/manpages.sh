#!/bin/sh
# Writes a man page for each command from its --help (help2man), running the commands from the
# virtual environment being built: manpages.sh VENV_DIR VERSION MAN1_DIR
set -eu
venv=$1 version=$2 out=$3
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
while read -r cmd name; do
    printf '#!/bin/sh\nexec "%s/bin/python" "%s/bin/%s" "$@"\n' "$venv" "$venv" "$cmd" >"$bin/$cmd"
    chmod +x "$bin/$cmd"
    help2man --no-info --no-discard-stderr --version-string="$version" --name="$name" \
        --output="$out/$cmd.1" "$bin/$cmd"
done <<'LIST'
trezor-backupd daemon of Trezor Backup Guard: the backup state of Trezor wallets on the session D-Bus
trezor-backupctl command line of Trezor Backup Guard: backup state, backup and dry-run check of a Trezor
trezor-backup-applet tray applet of Trezor Backup Guard: backup reminders and dialogs for a Trezor
LIST
