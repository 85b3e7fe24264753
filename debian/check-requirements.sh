#!/bin/sh
# The build's requirement check (`pip check`), over exactly what an installed package has: the
# private environment's own wheels and the python3-* packages that debian/control names in
# Depends, with what those depend on (apt installs that too). Any other Python package of the
# build machine does not count (python3-virtualenv, which dh-virtualenv pulls in, would make
# pip check fail on its old platformdirs pin; another package could hide a missing one), since
# an owner's machine need not have it. Usage, from the source tree: check-requirements.sh VENV
set -eu
venv=$1
site=$(echo "$venv"/lib/python3*/site-packages)

declared=$(sed -n '/^Package:/,$p' debian/control | grep -o 'python3-[a-z0-9.+-]*' | sort -u)
# shellcheck disable=SC2086 # one argument per package
with_dependencies=$(apt-cache depends --recurse --installed --no-recommends --no-suggests \
    --no-conflicts --no-breaks --no-replaces --no-enhances $declared \
    | grep -o '^python3-[a-z0-9.+-]*' | sort -u)

# What the declared packages install, seen through their metadata alone (all pip check reads).
view=$(mktemp -d)
trap 'rm -rf "$view"' EXIT
for package in $with_dependencies; do
    dpkg-query -L "$package" | grep -E '^/usr/lib/python3/dist-packages/[^/]+\.(dist|egg)-info$' \
        | while read -r metadata; do ln -s "$metadata" "$view/"; done
done

# -S: no site, so neither Debian's dist-packages nor the build machine's other paths are seen.
if problems=$(PYTHONPATH="$site:$view" "$venv/bin/python" -S -m pip check 2>&1); then
    echo "$problems"
    exit 0
fi
echo "$problems" >&2
missing=$(echo "$problems" | sed -n 's/.* requires \([^,]*\), which is not installed\./\1/p' \
    | tr 'A-Z_' 'a-z-' | sort -u)
echo "A Python requirement is met neither by debian/vendor-requirements.txt nor by the python3-*" \
    "packages debian/control declares in Depends (and Build-Depends)." >&2
for name in $missing; do
    echo "Missing: $name. Declare its Debian package (python3-$name?) in both lists of" \
        "debian/control, or pin it in debian/vendor-requirements.in and run make vendor-lock." >&2
done
exit 1
