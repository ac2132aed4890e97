#!/bin/sh
# pufferd @VERSION@ (linux-@ARCH@) in one file: this launcher, then the one-folder build that
# PyInstaller made (the tar.gz of packaging/build.sh). The first start of this build unpacks it,
# once, into a directory private to the user; every start runs the unpacked program in place of
# this script (same process, same arguments and signals). Where it unpacks, first found:
#   $PUFFERD_UNPACK_DIR, $XDG_CACHE_HOME/pufferd/builds, $HOME/.cache/pufferd/builds
# One subdirectory per build (VERSION-ID, ID: 16 hex digits of the archive's SHA-256); unpacking a
# new build removes the other VERSION-ID directories there that no running process uses.
# packaging/README.md, "One file".
set -eu
build="@VERSION@-@ID@"
lines=@LINES@  # of this launcher: the archive starts on the next line

fail() { echo "pufferd: $*" >&2; exit 1; }
mask=$(umask)  # the program runs with the caller's, also on the start that unpacks

if [ -n "${PUFFERD_UNPACK_DIR:-}" ]; then root=$PUFFERD_UNPACK_DIR
elif [ -n "${XDG_CACHE_HOME:-}" ]; then root=$XDG_CACHE_HOME/pufferd/builds
elif [ -n "${HOME:-}" ] && [ "$HOME" != / ]; then root=$HOME/.cache/pufferd/builds
else fail "nowhere to unpack this build: set HOME, XDG_CACHE_HOME or PUFFERD_UNPACK_DIR (or install the tarball)"
fi
dir=$root/$build
exe=$dir/pufferd/pufferd

in_use() {  # a running process's executable is inside directory $1
    for link in /proc/[0-9]*/exe; do
        case $(readlink "$link" 2>/dev/null || true) in "$1"/*) return 0 ;; esac
    done
    return 1
}

if [ ! -x "$exe" ]; then
    umask 077
    mkdir -p "$root" 2>/dev/null || fail "cannot create $root"
    [ -O "$root" ] || fail "$root belongs to another user: set PUFFERD_UNPACK_DIR to a directory of yours"
    [ -d "$dir" ] && ! in_use "$dir" && rm -rf "$dir"  # left incomplete by hand: unpacked again
    tmp=$(mktemp -d "$root/.unpacking.XXXXXX") || fail "cannot write to $root"
    trap 'rm -rf "$tmp"' EXIT
    trap 'exit 1' HUP INT TERM
    tail -n +$((lines + 1)) "$0" | tar -xzf - -C "$tmp" || fail "cannot unpack $0 into $root"
    # one rename; a start of the same build at the same moment may have won: then use its copy
    mv -T "$tmp" "$dir" 2>/dev/null || [ -x "$exe" ] || fail "cannot unpack into $dir"
    x='[0-9a-f]'
    for old in "$root"/*-$x$x$x$x$x$x$x$x$x$x$x$x$x$x$x$x; do  # only builds: VERSION-ID
        if [ "$old" != "$dir" ] && [ -d "$old/pufferd" ] && ! in_use "$old"; then rm -rf "$old"; fi
    done
    # what an unpacking stopped by a crash or kill -9 left behind
    find "$root" -maxdepth 1 -name '.unpacking.*' -mmin +60 -exec rm -rf {} + 2>/dev/null || true
    rm -rf "$tmp"
    trap - EXIT HUP INT TERM
fi
[ -O "$dir" ] || fail "$dir belongs to another user: set PUFFERD_UNPACK_DIR to a directory of yours"
umask "$mask"
exec "$exe" "$@"
