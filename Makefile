# The two commands of the README:
#   make demo   run the daemon on a simulated Trezor and show its status (no Trezor or desktop needed)
#   make test   run every check and test
# Both install what they need first (system packages via apt-get when root).

VENV ?= .venv
PY := $(VENV)/bin/python
PREFIX ?= /usr/local

.PHONY: demo test lint system-packages install install-data uninstall deb vendor-lock pot mo check-po

system-packages:
	sh tests/setup-system.sh

$(VENV)/.installed: pyproject.toml sim/pyproject.toml
	sh tests/setup-system.sh
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]' -e ./sim
	touch $@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check api daemon ctl applet sim tests bench
	$(VENV)/bin/ruff format --check api daemon ctl applet sim tests bench
	$(VENV)/bin/mypy

test: system-packages $(VENV)/.installed lint mo
	umockdev-wrapper $(PY) -m pytest

demo: system-packages $(VENV)/.installed mo
	sh tests/demo.sh $(PY)

# Translations (GNU gettext, one text domain; docs/translating.md). `make pot` extracts every
# marked string of the programs into po/$(DOMAIN).pot and merges it into each po/LANG.po;
# `make mo` compiles the catalogues into the contract package, where every program (checkout,
# venv, the Debian package) finds them. xgettext marks each string with `{placeholders}` as
# python-brace-format, so msgfmt --check refuses a translation whose placeholders differ.
DOMAIN = trezor-backup-guard
LINGUAS = $(shell cat po/LINGUAS)
LOCALE_DIR = api/trezor_backup_api/locale
POT ?= po/$(DOMAIN).pot
PO_SOURCES = $(sort $(shell find api daemon ctl applet -name '*.py'))
XGETTEXT = xgettext --language=Python --from-code=UTF-8 --add-comments=Translators: \
	--keyword=_ --keyword=N_ --keyword=ngettext:1,2 --keyword=plural_sentence:1,2 \
	--package-name=trezor-backup-guard \
	--sort-by-file --no-wrap

pot:
	$(XGETTEXT) -o $(POT) $(PO_SOURCES)
	for lang in $(LINGUAS); do \
		msgmerge --quiet --update --backup=none --no-fuzzy-matching --no-wrap \
			po/$$lang.po $(POT) || exit 1; \
	done

# Fails on a string of the programs that a catalogue lacks or has fuzzy, or on a broken
# placeholder; changes nothing (tests/unit/test_translations.py runs it).
check-po:
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(XGETTEXT) -o "$$tmp/$(DOMAIN).pot" $(PO_SOURCES) && \
	for lang in $(LINGUAS); do \
		msgmerge --quiet --no-fuzzy-matching -o "$$tmp/$$lang.po" po/$$lang.po "$$tmp/$(DOMAIN).pot" && \
		{ stats=$$(msgfmt --check --statistics -o /dev/null "$$tmp/$$lang.po" 2>&1) || \
			{ echo "$$lang: $$stats" >&2; exit 1; }; } && \
		echo "$$lang: $$stats" && \
		case "$$stats" in *untranslated*|*fuzzy*) \
			echo "$$lang is incomplete: run make pot, then translate po/$$lang.po" >&2; exit 1;; \
		esac || exit 1; \
	done

mo:
	sh po/compile.sh $(LOCALE_DIR)

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
PACKAGES = trezor_backup_api trezor_backupd trezor_backupctl trezor_backup_applet
SCRIPTS = trezor-backupd trezor-backupctl trezor-backup-applet

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
# dh-virtualenv (docs/packaging.md) inside a clean Debian 12 root that holds only
# build-essential and the Build-Depends of debian/control (debian/clean-root.sh; needs root).
# DEB_OUT: where the .deb goes.
DEB_OUT ?= dist
deb:
	sh debian/clean-root.sh build "$(DEB_OUT)"

# debian/vendor-requirements.txt, the lock of the vendored wheels, from
# debian/vendor-requirements.in: the hash of every file of each pinned release (uv, from PyPI).
UV_VERSION = 0.13.9
vendor-lock:
	python3 -m venv build/uv && build/uv/bin/pip install --quiet uv==$(UV_VERSION)
	{ printf '%s\n' '--require-hashes' '--only-binary :all:'; \
	  build/uv/bin/uv pip compile --quiet --no-deps --generate-hashes --no-annotate \
		--python-version 3.11 --custom-compile-command 'make vendor-lock' \
		debian/vendor-requirements.in; } >debian/vendor-requirements.txt
