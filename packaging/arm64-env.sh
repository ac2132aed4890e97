# Sourced by packaging/build-arm64.sh and packaging/smoke.sh: run commands in an arm64 root file
# system on an x86-64 machine. arm64_setup DIR picks the way: chroot when the kernel runs aarch64
# executables through binfmt_misc (qemu-aarch64 registered with the F flag, as binfmt-support
# does), otherwise proot with qemu-aarch64-static, which needs no kernel support.

arm64_setup() {
    ARM64_ROOT="$1"
    ARM64_MOUNTED=0
    if [ "$(uname -m)" = aarch64 ]; then
        ARM64_MODE=chroot
        return
    fi
    if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
    fi
    if [ -e /proc/sys/fs/binfmt_misc/status ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
        update-binfmts --enable qemu-aarch64 2>/dev/null || true
    fi
    if grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
            && grep -qs '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
        ARM64_MODE=chroot
    elif command -v proot >/dev/null; then
        ARM64_MODE=proot
    else
        echo "arm64-env: no binfmt_misc for qemu-aarch64 and no proot: cannot run arm64 code" >&2
        return 1
    fi
    echo "arm64-env: running arm64 code through $ARM64_MODE" >&2
}

arm64_mount() {
    if [ "$ARM64_MODE" = chroot ] && ! mountpoint -q "$ARM64_ROOT/proc"; then
        mount -t proc proc "$ARM64_ROOT/proc"
        mount --bind /dev "$ARM64_ROOT/dev"
        ARM64_MOUNTED=1
    fi
}

arm64_umount() {
    if [ "$ARM64_MOUNTED" = 1 ]; then
        umount "$ARM64_ROOT/dev" "$ARM64_ROOT/proc" || true
        ARM64_MOUNTED=0
    fi
}

arm64_run() {
    if [ "$ARM64_MODE" = chroot ]; then
        chroot "$ARM64_ROOT" "$@"
    else
        proot -q qemu-aarch64-static -r "$ARM64_ROOT" -b /proc -b /dev -b /sys -w / "$@"
    fi
}
