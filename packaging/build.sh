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
# The Python used is $PYTHON (default python3); it needs pufferd's dependencies installed
# (`python3 -m pip install .`), and PyInstaller is installed into it when missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
DIST="$ROOT/dist"
WORK="$ROOT/build/pyinstaller"
ONEDIR=1

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

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

if ! "$PYTHON" -m PyInstaller --version >/dev/null 2>&1; then
    echo "build.sh: installing PyInstaller" >&2
    "$PYTHON" -m pip install -q 'pyinstaller>=6.22'
fi

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
