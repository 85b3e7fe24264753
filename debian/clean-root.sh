#!/bin/sh
# Builds the package the way Debian's build daemons do: in a minimal Debian 12 root that holds
# only build-essential and the Build-Depends of debian/control, so that a dependency missing
# there fails the build on every machine instead of hiding behind what one machine happens to
# have installed. Inside, nothing is fetched but the vendored wheels, which the lock
# (vendor-requirements.txt) pins with their hashes.
#
#   clean-root.sh base          makes (once) the minimal Debian 12 root; prints its tarball
#   clean-root.sh build OUTDIR  builds this checkout's .deb into OUTDIR
#
# Needs root (debootstrap, chroot, mounts). The roots, apt's downloads and pip's cache are kept
# in $TREZOR_BACKUP_GUARD_CACHE (default /var/cache/trezor-backup-guard); every build unpacks a
# pristine copy. DEBIAN_MIRROR and PIP_INDEX_URL (a mirror of PyPI) may name other sources.
set -eu
cache=${TREZOR_BACKUP_GUARD_CACHE:-/var/cache/trezor-backup-guard}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
base_tarball=$cache/bookworm-minbase.tar
apt="apt-get -o DPkg::Lock::Timeout=600 -o APT::Install-Recommends=false -q"
say() { echo "clean-root: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    say "building in a clean Debian 12 root needs root (debootstrap, chroot): sudo make deb"
    exit 1
fi
if ! command -v debootstrap >/dev/null || ! command -v unshare >/dev/null; then
    $apt update && DEBIAN_FRONTEND=noninteractive $apt install -y debootstrap util-linux
fi
mkdir -p "$cache/apt-archives/partial" "$cache/pip" "$cache/build-roots"

# Serialise runs that share the cache (another checkout, a parallel test): apt locks its
# download directory, and a half-written tarball must never be read.
exec 9>"$cache/lock"
flock 9

ensure_base() {
    [ -f "$base_tarball" ] && return
    say "debootstrap --variant=minbase bookworm (once; cached in $cache)"
    rm -rf "$cache/bootstrap"
    debootstrap --variant=minbase bookworm "$cache/bootstrap" "$mirror" >&2
    tar -C "$cache/bootstrap" -cf "$base_tarball.part" .
    mv "$base_tarball.part" "$base_tarball"
    rm -rf "$cache/bootstrap"
}

# in_root ROOT COMMAND...: runs COMMAND in ROOT with /proc, /dev, apt's and pip's caches
# mounted (apt keeps its downloads there), in a mount namespace of its own (the mounts vanish with it), with an environment
# that holds nothing of the caller's but PIP_INDEX_URL. The machine's name servers and the
# certificate authorities it trusts (PIP_CERT, else Debian's bundle: a network that inspects
# TLS has its own) come along, so that pip reaches the index as the machine does.
in_root() {
    root=$1
    shift
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    mkdir -p "$root/etc/ssl"
    cp "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$root/etc/ssl/build-machine-ca.crt"
    mkdir -p "$root/root/.cache/pip"
    unshare --mount --propagation private -- sh -c '
        root=$1 cache=$2; shift 2
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
        mount --bind "$cache/pip" "$root/root/.cache/pip"
        exec chroot "$root" "$@"' - "$root" "$cache" \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive PIP_CERT=/etc/ssl/build-machine-ca.crt \
        ${PIP_INDEX_URL:+PIP_INDEX_URL=$PIP_INDEX_URL} "$@"
}

# A build root per set of Build-Depends (the source stanza of debian/control): made from the
# minimal root with apt once, then unpacked for each build. The two newest are kept.
build_root_tarball() {
    key=$(awk 'BEGIN { RS = "" } NR == 1' debian/control | sha256sum | cut -c1-16)
    tarball=$cache/build-roots/$key.tar
    if [ ! -f "$tarball" ]; then
        say "making the build root: build-essential and the Build-Depends of debian/control"
        root=$work/root
        mkdir -p "$root" "$root/tmp/control/debian"
        tar -C "$root" -xf "$base_tarball"
        cp debian/control "$root/tmp/control/debian/control"
        in_root "$root" sh -c "$apt update && $apt install -y build-essential \
            && $apt build-dep -y /tmp/control" >&2
        rm -rf "$root/tmp/control"
        tar -C "$root" -cf "$tarball.part" .
        mv "$tarball.part" "$tarball"
        rm -rf "$root"
        # shellcheck disable=SC2012 # plain file names, newest first
        ls -t "$cache"/build-roots/*.tar | tail -n +3 | xargs -r rm -f
    fi
    echo "$tarball"
}

build() {
    out=$1
    mkdir -p "$out"
    work=$(mktemp -d "${TMPDIR:-/tmp}/trezor-backup-guard-deb.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    ensure_base
    tarball=$(build_root_tarball)
    root=$work/root
    mkdir -p "$root"
    tar -C "$root" -xf "$tarball"
    # The checkout's files (tracked and new, not ignored ones); outside git, all but build
    # products.
    mkdir -p "$root/build/src"
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files -z --cached --others --exclude-standard
    else
        find . \( -name .git -o -name .venv -o -name build -o -name dist -o -name __pycache__ \
            -o -name '*.egg-info' -o -name '.*_cache' \) -prune -o -type f -print0
    fi | tar --null --files-from=- --ignore-failed-read -cf - | tar -xf - -C "$root/build/src"
    say "dpkg-buildpackage in the clean root"
    in_root "$root" sh -c 'cd /build/src && dpkg-buildpackage --build=binary --no-sign' >&2
    cp "$root"/build/trezor-backup-guard_*.deb "$out/"
    ls "$out"/trezor-backup-guard_*.deb
}

case ${1:-} in
    base) ensure_base && echo "$base_tarball" ;;
    build) [ $# -eq 2 ] || { say "usage: clean-root.sh build OUTDIR"; exit 2; }; build "$2" ;;
    *) say "usage: clean-root.sh base | build OUTDIR"; exit 2 ;;
esac
