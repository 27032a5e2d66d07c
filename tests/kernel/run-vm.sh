#!/usr/bin/env bash
# run-vm.sh - the kernel tier's VM: boots Debian's kernel (package linux-image-amd64) under qemu
# (TCG: KVM guests hung on these machines, ../../../shared/notes/testbed.md) with the host's
# root shared read-only, and runs tests/kernel/guest.sh inside it, in a chroot of the host root,
# so the guest uses the project's build, strongSwan and iproute2 against a kernel with ESP.
#
#   run-vm.sh --build DIR --out DIR [--timeout S] [--memory MB] -- STEP [ARG...] [-- STEP ...]
#
#   --build    the build directory (posternd, unit_esp_xfrm); the initramfs is made there
#   --out      where the guest writes its logs and results (a fresh folder, shared read-write)
#   STEP       what guest.sh runs, in order, in the one boot: `unit BINARY` (a Boost.Test binary),
#              `script FILE ARG...` (a test script; exit 0 pass, 77 skip, else fail)
#
# Boot: a busybox-static initramfs with the virtio, 9p and overlay modules (and their
# dependencies, as modprobe resolves them for that kernel) mounts the host root read-only under
# a tmpfs overlay at /host (so the guest may write anywhere, in memory), mounts /proc, /sys,
# /dev and a fresh /run inside it, mounts --out over the same path, and chroots into it.
# Inside, /sbin/modprobe of the initramfs (the kernel's helper path) runs the host's modprobe
# in the chroot, so modules load on demand from the host's /lib/modules of that kernel.
#
# Bounded: `timeout` ends qemu after --timeout seconds (default 480). On any failure the
# serial console log (OUT/console.log) is printed, and the guest's logs stay in OUT.
# Exit: 0 when every step passed, 1 otherwise, 77 (skip) when not root, or qemu or a Debian
# kernel image is missing.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD= OUT= TIMEOUT=480 MEMORY=2048
while [ $# -gt 0 ]; do
    case $1 in
        --build) BUILD=$(cd "$2" && pwd); shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --memory) MEMORY=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "run-vm.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -n "$BUILD" ] && [ -n "$OUT" ] && [ $# -gt 0 ] || { sed -n 2,30p "$0" >&2; exit 2; }
log() { printf '[run-vm %s] %s\n' "$(date +%T)" "$*" >&2; }
skip() { echo "SKIP: kernel tier: $*" >&2; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (qemu's 9p export of / and namespaces in the guest)"
QEMU=$(command -v qemu-system-x86_64) || skip "no qemu-system-x86_64 (Debian package qemu-system-x86)"
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] && { ldd "$BUSYBOX" 2>&1 || true; } | grep -q "not a dynamic" \
    || skip "no static busybox (Debian package busybox-static)"
# The newest Debian kernel whose modules are installed.
KVER=
for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sed 's|/boot/vmlinuz-||' | sort -V -r); do
    [ -d "/lib/modules/$k/kernel/net/xfrm" ] && { KVER=$k; break; }
done
[ -n "$KVER" ] || skip "no /boot/vmlinuz-* with modules in /lib/modules (Debian package linux-image-amd64)"

rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
chmod 777 "$OUT"

# --- initramfs, made in the build directory each run (nothing cached outside the clone) ---
INITRD_DIR=$BUILD/kernel-initramfs
rm -rf "$INITRD_DIR"
mkdir -p "$INITRD_DIR"/{bin,sbin,proc,sys,dev,host,lib/modules}
cp "$BUSYBOX" "$INITRD_DIR/bin/busybox"
MODS=()
for m in virtio_pci 9pnet_virtio 9p overlay; do
    while read -r kind path _; do
        [ "$kind" = insmod ] || continue
        name=$(basename "$path")
        case " ${MODS[*]} " in *" $name "*) continue ;; esac
        case $path in
            *.ko) cp "$path" "$INITRD_DIR/lib/modules/$name" ;;
            *.ko.xz) xz -dc "$path" >"$INITRD_DIR/lib/modules/${name%.xz}"; name=${name%.xz} ;;
            *.ko.zst) zstd -qdc "$path" >"$INITRD_DIR/lib/modules/${name%.zst}"; name=${name%.zst} ;;
        esac
        MODS+=("$name")
    done < <(modprobe -S "$KVER" --show-depends "$m")
done
cat >"$INITRD_DIR/sbin/modprobe" <<'EOM'
#!/bin/busybox sh
# The kernel's module helper: the host's modprobe, in the host root.
exec /bin/busybox chroot /host /sbin/modprobe "$@"
EOM
chmod 755 "$INITRD_DIR/sbin/modprobe"
cat >"$INITRD_DIR/init" <<EOM
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "postern-vm: kernel \$(uname -r)"
for m in ${MODS[*]}; do insmod /lib/modules/\$m || echo "postern-vm: insmod \$m failed"; done
# The host root, read-only, under a tmpfs overlay: every path (the clone wherever it is, /tmp,
# /run) is writable in the guest and nothing reaches the host but the output folder.
mkdir -p /lower /rw
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower || { echo "postern-vm: cannot mount the host root"; poweroff -f; }
mount -t tmpfs -o size=75% tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /host || { echo "postern-vm: cannot mount the overlay"; poweroff -f; }
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts /host/dev/shm 2>/dev/null
mount -t devpts devpts /host/dev/pts
mount -t tmpfs tmpfs /host/dev/shm
mount -t tmpfs tmpfs /host/run
mkdir -p /host$OUT
mount -t 9p -o trans=virtio,version=9p2000.L,rw,msize=262144 out /host$OUT || { echo "postern-vm: cannot mount the output folder"; poweroff -f; }
echo "postern-vm: running guest.sh"
chroot /host /bin/bash $HERE/guest.sh $OUT $REPO $(printf '%q ' "$@") </dev/null >/host$OUT/guest.log 2>&1
echo "postern-vm: guest.sh exited \$?"
sync
poweroff -f
EOM
chmod 755 "$INITRD_DIR/init"
(cd "$INITRD_DIR" && find . | cpio -o -H newc --quiet | gzip -1) >"$BUILD/kernel-initramfs.cpio.gz"
log "kernel $KVER, initramfs $BUILD/kernel-initramfs.cpio.gz (${#MODS[@]} modules), output $OUT"

# --- boot ---
T0=$(date +%s)
rc=0
timeout --kill-after=10 "$TIMEOUT" "$QEMU" -accel tcg -cpu max -smp 2 -m "$MEMORY" \
    -nographic -no-reboot -nic none \
    -kernel "/boot/vmlinuz-$KVER" -initrd "$BUILD/kernel-initramfs.cpio.gz" \
    -append "console=ttyS0 quiet panic=-1 oops=panic" \
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
    -virtfs "local,path=$OUT,mount_tag=out,security_model=none,multidevs=remap" \
    </dev/null >"$OUT/console.log" 2>&1 || rc=$?
T1=$(date +%s)
log "VM ran $((T1 - T0)) s (qemu status $rc)"

fail=0
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "FAIL: the VM did not finish within ${TIMEOUT}s" >&2
    fail=1
fi
if [ ! -s "$OUT/results" ]; then
    echo "FAIL: the guest wrote no results (it did not boot, or guest.sh died early)" >&2
    fail=1
else
    cat "$OUT/results" >&2
    grep -q '^FAIL' "$OUT/results" && fail=1
    grep -q '^PASS' "$OUT/results" || fail=1
fi
if [ "$fail" != 0 ]; then
    echo "==================== serial console ($OUT/console.log) ====================" >&2
    tail -n 80 "$OUT/console.log" >&2
    echo "==================== guest ($OUT/guest.log, last 300 lines) ====================" >&2
    tail -n 300 "$OUT/guest.log" >&2 2>/dev/null || true
    exit 1
fi
log "every step passed (logs in $OUT)"
