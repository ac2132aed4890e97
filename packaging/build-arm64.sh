#!/usr/bin/env bash
# Build the arm64 (aarch64) pufferd executables on an x86-64 machine, inside an arm64 Debian 12
# root file system run under qemu-user emulation (packaging/README.md, "arm64 under emulation").
#
#   packaging/build-arm64.sh [--root DIR] [--dist DIR] [--mirror URL]
#
# Needs root and the Debian packages qemu-user-static, binfmt-support and debootstrap (proot too
# when binfmt_misc cannot be used). Steps, each skipped when already done:
#   1. registers qemu-aarch64 with binfmt_misc (mounting /proc/sys/fs/binfmt_misc if needed);
#      without binfmt_misc, every command below runs through `proot -q qemu-aarch64-static`
#   2. debootstrap --arch=arm64 bookworm into DIR (first stage here, second stage emulated),
#      with libpython3.11 (PyInstaller bundles the shared library)
#   3. a virtual environment /opt/pufferd-build in DIR
#   4. copies this checkout's tracked files to DIR/build/src and runs packaging/build.sh there:
#      pip installs requirements/build.txt (hash-checked aarch64 wheels), PyInstaller builds
#   5. copies pufferd and pufferd-VERSION-linux-aarch64.tar.gz to the dist directory
# DIR defaults to ${XDG_CACHE_HOME:-~/.cache}/pufferd/arm64-root (outside the checkout), the dist
# directory to ./dist/arm64, the mirror to http://deb.debian.org/debian.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARMROOT="${XDG_CACHE_HOME:-$HOME/.cache}/pufferd/arm64-root"
DIST="$ROOT/dist/arm64"
MIRROR="http://deb.debian.org/debian"

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --root) ARMROOT="$2"; shift ;;
        --dist) DIST="$2"; shift ;;
        --mirror) MIRROR="$2"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "build-arm64.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

say() { echo "build-arm64.sh: $*" >&2; }
die() { say "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || die "install debootstrap qemu-user-static binfmt-support"
[ -x /usr/bin/qemu-aarch64-static ] || die "install qemu-user-static"
. "$ROOT/packaging/arm64-env.sh"
arm64_setup "$ARMROOT"

started=$SECONDS
if [ ! -e "$ARMROOT/etc/debian_version" ] || [ -d "$ARMROOT/debootstrap" ]; then
    if [ ! -d "$ARMROOT/debootstrap" ]; then
        say "debootstrap, first stage -> $ARMROOT"
        debootstrap --arch=arm64 --foreign --include=python3,python3-venv,libpython3.11,binutils \
            bookworm "$ARMROOT" "$MIRROR"
    fi
    say "debootstrap, second stage (emulated)"
    arm64_run /debootstrap/debootstrap --second-stage
fi
arm64_mount
trap arm64_umount EXIT
# pip in the root reaches PyPI like this machine: same resolver and CA bundle (a proxy's CA too)
cp -fL /etc/resolv.conf "$ARMROOT/etc/resolv.conf"
CA="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
if [ -f "$CA" ]; then
    mkdir -p "$ARMROOT$(dirname "$CA")" && cp -fL "$CA" "$ARMROOT$CA"
fi
# PyInstaller bundles the shared libpython, which Debian's python3 does not pull in
if ! ls "$ARMROOT"/usr/lib/aarch64-linux-gnu/libpython3.11.so.1* >/dev/null 2>&1; then
    say "apt-get install libpython3.11 (emulated)"
    arm64_run /usr/bin/apt-get update -q
    arm64_run /usr/bin/env DEBIAN_FRONTEND=noninteractive /usr/bin/apt-get install -y -q \
        --no-install-recommends libpython3.11
fi
if [ ! -x "$ARMROOT/opt/pufferd-build/bin/python" ]; then
    say "virtual environment /opt/pufferd-build"
    arm64_run /usr/bin/python3 -m venv /opt/pufferd-build
fi
prepared=$SECONDS

say "copying the checkout's tracked files to $ARMROOT/build/src"
rm -rf "$ARMROOT/build/src"
mkdir -p "$ARMROOT/build/src"
(cd "$ROOT" && git ls-files -z | tar --null -T - -cf -) | tar -C "$ARMROOT/build/src" -xf -
rm -rf "$ARMROOT/build/dist"
say "packaging/build.sh (emulated)"
# the root's pip gets the bundle explicitly: its own (certifi) bundle lacks a proxy's CA
arm64_run /usr/bin/env PYTHON=/opt/pufferd-build/bin/python PYINSTALLER_CONFIG_DIR=/build/cache \
    HOME=/root PIP_CERT="$CA" bash /build/src/packaging/build.sh --dist /build/dist --work /build/work
built=$SECONDS

mkdir -p "$DIST"
cp -f "$ARMROOT"/build/dist/pufferd "$ARMROOT"/build/dist/pufferd-*-linux-aarch64.tar.gz "$DIST/"
ls -l "$DIST" >&2
say "root ready in $((prepared - started)) s, build in $((built - prepared)) s"
