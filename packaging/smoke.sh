#!/usr/bin/env bash
# Smoke-test a built pufferd executable (packaging/smoke.py: version, init, serve, two users, a
# message received over WebSocket, upload and download, doctor, backup).
#
#   packaging/smoke.sh BINARY                          a binary for this machine
#   packaging/smoke.sh BINARY --emulated [--root DIR]  an arm64 binary, run with smoke.py inside
#                                                      the arm64 root of packaging/build-arm64.sh
# The native run uses $PYTHON (default python3; it needs aiohttp, e.g. the project's venv). The
# emulated run needs root and uses the root's /opt/pufferd-build Python; it is slow (minutes).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARMROOT="${XDG_CACHE_HOME:-$HOME/.cache}/pufferd/arm64-root"
EMULATED=0
BINARY=""

while [ $# -gt 0 ]; do
    case "$1" in
        --emulated) EMULATED=1 ;;
        --root) ARMROOT="$2"; shift ;;
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "smoke.sh: unknown option $1" >&2; exit 2 ;;
        *) BINARY="$1" ;;
    esac
    shift
done
[ -n "$BINARY" ] || { echo "smoke.sh: which binary?" >&2; exit 2; }

if [ "$EMULATED" = 0 ]; then
    exec "${PYTHON:-python3}" "$ROOT/packaging/smoke.py" "$BINARY"
fi

. "$ROOT/packaging/arm64-env.sh"
arm64_setup "$ARMROOT"
[ -x "$ARMROOT/opt/pufferd-build/bin/python" ] || { echo "smoke.sh: no build root in $ARMROOT" >&2; exit 2; }
arm64_mount
trap arm64_umount EXIT
rm -rf "$ARMROOT/smoke"
mkdir -p "$ARMROOT/smoke"
cp "$BINARY" "$ARMROOT/smoke/pufferd"
cp "$ROOT/packaging/smoke.py" "$ARMROOT/smoke/smoke.py"
arm64_run /opt/pufferd-build/bin/python /smoke/smoke.py /smoke/pufferd --emulated --workdir /smoke/work
rm -rf "$ARMROOT/smoke"
