#!/bin/sh
# Install the Debian/Ubuntu packages that running the product and its tests need (`make deb`
# installs the Build-Depends of debian/control itself).
# As root it uses apt-get; otherwise it names the packages and the one command to run.
set -eu

PACKAGES="dbus dbus-bin dbus-user-session libglib2.0-bin systemd udev desktop-file-utils libusb-1.0-0 umockdev gir1.2-umockdev-1.0
libumockdev0 libgirepository1.0-dev libcairo2-dev pkg-config gcc python3-dev python3-venv
gnome-keyring xvfb trayer dunst gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1 x11-utils xdotool fonts-dejavu-core iproute2
dpkg-dev lintian appstream debootstrap
libsdl2-2.0-0 libsdl2-image-2.0-0
gettext locales
at-spi2-core python3-pyatspi gir1.2-atspi-2.0"

# The languages the product is translated into (po/LINGUAS), as locales: dates and GTK follow
# LANG only where the locale exists.
LOCALES="cs_CZ de_DE es_ES fr_FR"

missing=""
for package in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $package"
    fi
done
missing_locales=""
for name in $LOCALES; do
    locale -a 2>/dev/null | grep -qx "$name.utf8" || missing_locales="$missing_locales $name"
done
[ -z "$missing$missing_locales" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    if [ -n "$missing" ]; then
        echo "These system packages are missing:$missing" >&2
        echo "Install them once with:  sudo apt-get install$missing" >&2
    fi
    if [ -n "$missing_locales" ]; then
        echo "These locales are missing:$missing_locales" >&2
        echo "Make each once with:  sudo localedef -i NAME -f UTF-8 NAME.UTF-8" >&2
    fi
    exit 1
fi
if [ -n "$missing" ]; then
    apt="apt-get -o DPkg::Lock::Timeout=600 -q"
    $apt update
    DEBIAN_FRONTEND=noninteractive $apt install -y --no-install-recommends $missing
fi
for name in $missing_locales; do
    localedef -i "$name" -f UTF-8 "$name.UTF-8"
done
