# The two commands of the README:
#   make demo   run the daemon on a simulated Trezor and show its status (no Trezor or desktop needed)
#   make test   run every check and test
# Both install what they need first (system packages via apt-get when root).

VENV ?= .venv
PY := $(VENV)/bin/python
PREFIX ?= /usr/local

.PHONY: demo test lint system-packages install install-data uninstall deb deb-build-deps

system-packages:
	sh tests/setup-system.sh

$(VENV)/.installed: pyproject.toml
	sh tests/setup-system.sh
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check api daemon applet tests
	$(VENV)/bin/ruff format --check api daemon applet tests
	$(VENV)/bin/mypy

test: system-packages $(VENV)/.installed lint
	umockdev-wrapper $(PY) -m pytest

demo: system-packages $(VENV)/.installed
	sh tests/demo.sh $(PY)

# For packagers: `make install PY=/usr/bin/python3 PREFIX=/usr DESTDIR=$(pkgdir)` (PY becomes
# the scripts' #! line; it needs setuptools>=70.1). Installs the Python package
# (offline: no dependencies are fetched, the build backend must be installed), the systemd user
# unit, the D-Bus activation file, the udev rules and the introspection XML. The tray applet's
# applications and autostart entries (AUTOSTART_DIR, default /etc/xdg/autostart) and its icon.
BINDIR = $(PREFIX)/bin
SYSTEMD_USER_DIR = $(PREFIX)/lib/systemd/user
DBUS_SERVICES_DIR = $(PREFIX)/share/dbus-1/services
DBUS_INTERFACES_DIR = $(PREFIX)/share/dbus-1/interfaces
UDEV_RULES_DIR = $(PREFIX)/lib/udev/rules.d
APPLICATIONS_DIR = $(PREFIX)/share/applications
ICONS_DIR = $(PREFIX)/share/icons/hicolor/256x256/apps
AUTOSTART_DIR ?= /etc/xdg/autostart
METAINFO_DIR = $(PREFIX)/share/metainfo
INSTALLED_DATA = \
	$(SYSTEMD_USER_DIR)/trezor-backupd.service \
	$(DBUS_SERVICES_DIR)/io.github.TrezorBackupGuard.service \
	$(DBUS_INTERFACES_DIR)/io.github.TrezorBackupGuard.xml \
	$(UDEV_RULES_DIR)/70-trezor-backup-guard.rules \
	$(APPLICATIONS_DIR)/io.github.TrezorBackupGuard.Applet.desktop \
	$(AUTOSTART_DIR)/io.github.TrezorBackupGuard.Applet-autostart.desktop \
	$(ICONS_DIR)/io.github.TrezorBackupGuard.Applet.png \
	$(METAINFO_DIR)/io.github.TrezorBackupGuard.Applet.metainfo.xml
PIP ?= $(PY) -m pip
SITE_PACKAGES = $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib", vars={"base": "$(PREFIX)"}))')
PACKAGES = trezor_backup_api trezor_backupd trezor_backupctl trezor_backup_sim trezor_backup_applet
SCRIPTS = trezor-backupd trezor-backupctl trezor-backup-sim trezor-backup-applet

install: install-data
	$(PIP) install --quiet --root "$(DESTDIR)/" --prefix "$(PREFIX)" --no-deps \
		--no-build-isolation --no-warn-script-location --ignore-installed .

# Everything but the Python package (debian/rules uses it beside its own virtual environment).
install-data:
	install -d "$(DESTDIR)$(SYSTEMD_USER_DIR)" "$(DESTDIR)$(DBUS_SERVICES_DIR)" \
		"$(DESTDIR)$(DBUS_INTERFACES_DIR)" "$(DESTDIR)$(UDEV_RULES_DIR)"
	sed 's|@bindir@|$(BINDIR)|g' systemd/trezor-backupd.service \
		>"$(DESTDIR)$(SYSTEMD_USER_DIR)/trezor-backupd.service"
	sed 's|@bindir@|$(BINDIR)|g' systemd/io.github.TrezorBackupGuard.service \
		>"$(DESTDIR)$(DBUS_SERVICES_DIR)/io.github.TrezorBackupGuard.service"
	chmod 644 "$(DESTDIR)$(SYSTEMD_USER_DIR)/trezor-backupd.service" \
		"$(DESTDIR)$(DBUS_SERVICES_DIR)/io.github.TrezorBackupGuard.service"
	install -m 644 daemon/trezor_backupd/data/io.github.TrezorBackupGuard.xml \
		"$(DESTDIR)$(DBUS_INTERFACES_DIR)/"
	install -m 644 udev/70-trezor-backup-guard.rules "$(DESTDIR)$(UDEV_RULES_DIR)/"
	install -d "$(DESTDIR)$(APPLICATIONS_DIR)" "$(DESTDIR)$(AUTOSTART_DIR)" "$(DESTDIR)$(ICONS_DIR)"
	install -m 644 applet/data/io.github.TrezorBackupGuard.Applet.desktop \
		"$(DESTDIR)$(APPLICATIONS_DIR)/"
	install -m 644 applet/data/io.github.TrezorBackupGuard.Applet-autostart.desktop \
		"$(DESTDIR)$(AUTOSTART_DIR)/"
	install -m 644 applet/data/io.github.TrezorBackupGuard.Applet.png "$(DESTDIR)$(ICONS_DIR)/"
	install -d "$(DESTDIR)$(METAINFO_DIR)"
	install -m 644 applet/data/io.github.TrezorBackupGuard.Applet.metainfo.xml \
		"$(DESTDIR)$(METAINFO_DIR)/"

# Removes what `install` put under $(DESTDIR)$(PREFIX) (pip cannot uninstall from a --root).
uninstall:
	rm -f $(foreach f,$(INSTALLED_DATA),"$(DESTDIR)$(f)")
	rm -f $(foreach s,$(SCRIPTS),"$(DESTDIR)$(BINDIR)/$(s)")
	rm -rf $(foreach p,$(PACKAGES),"$(DESTDIR)$(SITE_PACKAGES)/$(p)") \
		"$(DESTDIR)$(SITE_PACKAGES)"/trezor_backup_guard-*.dist-info

# `make deb`: dist/trezor-backup-guard_<version>_<arch>.deb, built with debhelper and
# dh-virtualenv (docs/packaging.md) from a copy of the checkout's files (tracked and new ones,
# not ignored ones; outside git, all but the build products). DEB_OUT: where the .deb goes;
# DEB_BUILD: the scratch directory.
DEB_OUT ?= dist
DEB_BUILD ?= build/deb
deb: deb-build-deps
	rm -rf "$(DEB_BUILD)" && mkdir -p "$(DEB_BUILD)/src" "$(DEB_OUT)"
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z --cached --others --exclude-standard; \
	else \
		find . \( -name .git -o -name .venv -o -name build -o -name dist -o -name __pycache__ \
			-o -name '*.egg-info' -o -name '.*_cache' \) -prune -o -type f -print0; \
	fi | tar --null --files-from=- --ignore-failed-read -cf - | tar -xf - -C "$(DEB_BUILD)/src"
	cd "$(DEB_BUILD)/src" && dpkg-buildpackage --build=binary --no-sign
	mv "$(DEB_BUILD)"/trezor-backup-guard_*.deb "$(DEB_OUT)/"
	rm -rf "$(DEB_BUILD)"
	@ls "$(DEB_OUT)"/trezor-backup-guard_*.deb

# The Build-Depends of debian/control: installed with apt-get as root, else named.
deb-build-deps:
	@if ! command -v dpkg-checkbuilddeps >/dev/null || ! dpkg-checkbuilddeps 2>/dev/null; then \
		if [ "$$(id -u)" -ne 0 ]; then \
			echo "Install what the build needs once with:" \
				"sudo apt-get install dpkg-dev && sudo apt-get build-dep ./" >&2; \
			exit 1; \
		fi; \
		apt-get -o DPkg::Lock::Timeout=600 -q update \
		&& apt-get -o DPkg::Lock::Timeout=600 -q install -y --no-install-recommends dpkg-dev \
		&& DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q build-dep -y ./; \
	fi
