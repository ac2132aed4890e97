#!/usr/bin/env bash
# Build the pufferd executables with PyInstaller (packaging/pufferd.spec).
#
#   packaging/build.sh [--onefile-only] [--dist DIR] [--work DIR]
#
# Produces, for the machine it runs on (no cross-compiling: build arm64 on arm64):
#   DIR/pufferd-VERSION-linux-ARCH.tar.gz        PyInstaller's one-folder build (pufferd/pufferd +
#                                                pufferd/_internal/ + pufferd/pufferd.service)
#   DIR/pufferd                                  one file: packaging/onefile.sh followed by that
#                                                tar.gz; unpacks it once per build and user
# --onefile-only leaves the tar.gz out of DIR. DIR defaults to ./dist, the work directory to
# ./build/pyinstaller (both under the checkout). The Python used is $PYTHON (default python3, best
# a virtual environment of its own); the build first installs requirements/build.txt into it (the
# locked runtime dependencies plus PyInstaller, hash-checked; nothing to do when they are there
# already), so every binary carries the same versions that the tests ran with.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
DIST="$ROOT/dist"
WORK="$ROOT/build/pyinstaller"
ONEDIR=1

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --onefile-only) ONEDIR=0 ;;
        --dist) DIST="$2"; shift ;;
        --work) WORK="$2"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "build.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

echo "build.sh: installing requirements/build.txt into $PYTHON" >&2
"$PYTHON" -m pip install -q --require-hashes -r "$ROOT/requirements/build.txt"

mkdir -p "$DIST" "$WORK"
DIST="$(cd "$DIST" && pwd)"
WORK="$(cd "$WORK" && pwd)"
VERSION="$(cd "$ROOT" && "$PYTHON" -c 'import pufferd; print(pufferd.__version__)')"
ARCH="$(uname -m)"
SPEC="$ROOT/packaging/pufferd.spec"

pyinstaller() {
    (cd "$WORK" && "$PYTHON" -m PyInstaller --noconfirm --log-level WARN "$@")
}

TARBALL="$WORK/pufferd-$VERSION-linux-$ARCH.tar.gz"
echo "build.sh: one-folder build -> $TARBALL" >&2
rm -rf "$WORK/onedir-dist"
pyinstaller --distpath "$WORK/onedir-dist" --workpath "$WORK/onedir" "$SPEC"
cp "$ROOT/packaging/pufferd.service" "$WORK/onedir-dist/pufferd/pufferd.service"
"$WORK/onedir-dist/pufferd/pufferd" version
tar -C "$WORK/onedir-dist" --owner=0 --group=0 -czf "$TARBALL" pufferd

echo "build.sh: one file (packaging/onefile.sh + the tar.gz) -> $DIST/pufferd" >&2
ID="$(sha256sum "$TARBALL" | cut -c1-16)"
LINES="$(wc -l < "$ROOT/packaging/onefile.sh")"
sed -e "s/@VERSION@/$VERSION/g" -e "s/@ARCH@/$ARCH/g" -e "s/@ID@/$ID/g" -e "s/@LINES@/$LINES/g" \
    "$ROOT/packaging/onefile.sh" > "$WORK/pufferd.onefile"
cat "$TARBALL" >> "$WORK/pufferd.onefile"
chmod 755 "$WORK/pufferd.onefile"
mv -f "$WORK/pufferd.onefile" "$DIST/pufferd"
if [ "$ONEDIR" = 1 ]; then
    cp -f "$TARBALL" "$DIST/"
fi
PUFFERD_UNPACK_DIR="$WORK/unpacked" "$DIST/pufferd" version
rm -rf "$WORK/unpacked"

ls -l "$DIST"
