#!/usr/bin/env bash
# Build the pufferd executables with PyInstaller (packaging/pufferd.spec).
#
#   packaging/build.sh [--onefile-only] [--dist DIR] [--work DIR]
#
# Produces, for the machine it runs on (no cross-compiling: build arm64 on arm64):
#   DIR/pufferd                                  one file, unpacks itself to $TMPDIR on each start
#   DIR/pufferd-VERSION-linux-ARCH.tar.gz        one folder (pufferd/pufferd + pufferd/_internal/
#                                                + pufferd/pufferd.service) for systemd installs
# DIR defaults to ./dist, the work directory to ./build/pyinstaller (both under the checkout).
# The Python used is $PYTHON (default python3, best a virtual environment of its own); the build
# first installs requirements/build.txt into it (the locked runtime dependencies plus PyInstaller,
# hash-checked; nothing to do when they are there already), so every binary carries the same
# versions that the tests ran with.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
DIST="$ROOT/dist"
WORK="$ROOT/build/pyinstaller"
ONEDIR=1

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }

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

echo "build.sh: one-file executable -> $DIST/pufferd" >&2
pyinstaller --distpath "$WORK/onefile-dist" --workpath "$WORK/onefile" "$SPEC"
mv -f "$WORK/onefile-dist/pufferd" "$DIST/pufferd"
"$DIST/pufferd" version

if [ "$ONEDIR" = 1 ]; then
    TARBALL="$DIST/pufferd-$VERSION-linux-$ARCH.tar.gz"
    echo "build.sh: one-folder build -> $TARBALL" >&2
    rm -rf "$WORK/onedir-dist"
    pyinstaller --distpath "$WORK/onedir-dist" --workpath "$WORK/onedir" "$SPEC" -- --onedir
    cp "$ROOT/packaging/pufferd.service" "$WORK/onedir-dist/pufferd/pufferd.service"
    "$WORK/onedir-dist/pufferd/pufferd" version
    tar -C "$WORK/onedir-dist" --owner=0 --group=0 -czf "$TARBALL" pufferd
fi

ls -l "$DIST"
