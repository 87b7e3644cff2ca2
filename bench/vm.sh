#!/usr/bin/env bash
# Boot of a 1 vCPU / 256 MiB VM running `true` from a busybox root disk, through BerthVM's
# QEMUBackend (`berth-vm run`: checks, spawn with -S, QMP connect, cont, wait, reap) vs the
# same qemu-system-x86_64 argv run raw (without -S). Both end when the guest powers off after
# printing its exit status, so each run is boot + command + shutdown. A third line boots the
# kernel and initramfs alone (no disk, `berth.root=none`).
# Then `--isolation vm`: `berth run --rm --isolation vm busybox:test true` through a private
# berthd (create, root disk from the image, initramfs + spec, boot, agent, exit, rm) vs the
# same QEMU argv (kernel, that container's initramfs and root disk, the two virtio-serial
# ports) run raw. ISOLATION_ONLY=1 skips the first table, BOOT_ONLY=1 runs only the
# `berth vm start` table; BUILD=.build/debug uses debug binaries.
# Results: bench/results/vm-<date>.md
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
BUILD=${BUILD:-.build/release}
BIN=${BIN:-$BUILD/berth-vm}
[ -x "$BIN" ] || swift build -c release --product berth-vm
work=$(mktemp -d /tmp/berth-vm-bench-XXXXXX)
berthd_pid=
exec_root=/run/berth/vmbench-$$
cleanup() {
  if [ -n "$berthd_pid" ]; then
    ids=$("$BUILD/berth" -H "unix://$work/berth.sock" ps -aq 2>/dev/null || true)
    [ -n "$ids" ] && "$BUILD/berth" -H "unix://$work/berth.sock" rm -f $ids >/dev/null 2>&1 || true
    kill "$berthd_pid" 2>/dev/null && wait "$berthd_pid" 2>/dev/null || true
  fi
  grep -o " $work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work" "$exec_root"
}
trap cleanup EXIT

# A busybox tree → 1 GiB root disk; Berth's initramfs.
mkdir -p "$work/tree/bin" "$work/tree/sbin" "$work/tree/etc" "$work/tree/proc" "$work/tree/sys" "$work/tree/dev"
cp /bin/busybox "$work/tree/bin/busybox"
for a in sh true echo; do ln -s busybox "$work/tree/bin/$a"; done
"$BIN" rootdisk "$work/tree" "$work/root.qcow2" 1024
"$BIN" initramfs "$work/initrd.cpio" >/dev/null

opts=(--initrd "$work/initrd.cpio" --disk "$work/root.qcow2" --cpus 1 --memory 256 --state "$work/state")
mapfile -t raw < <("$BIN" argv "${opts[@]}" -- true)
mapfile -t rawnodisk < <("$BIN" argv --initrd "$work/initrd.cpio" --state "$work/state" -- true)
mkdir -p "$work/state"
q() { printf '%q ' "$@"; }

if [ -z "${ISOLATION_ONLY:-}${BOOT_ONLY:-}" ]; then
hyperfine -N --warmup 2 --runs "$RUNS" --export-markdown "$work/vm.md" --export-json "$work/vm.json" \
  --prepare "rm -f $work/state/raw-console.log" \
  -n "berth-vm run (QEMUBackend)" "$(q "$BIN" run "${opts[@]}" -- true)" \
  -n "raw qemu-system-x86_64, same argv" "$(q "${raw[@]}")" \
  -n "raw qemu, kernel + initramfs only" "$(q "${rawnodisk[@]}")"
fi

# --isolation vm through berthd vs the same QEMU argv raw.
for b in berthd berth berth-init berth-vm-agent; do [ -x "$BUILD/$b" ] || swift build -c release; done
[ -f .build/test-image/busybox-test.tar ] || scripts/make-test-image
"$BUILD/berthd" --root "$work/berth" -H "unix://$work/berth.sock" --pidfile "$work/berthd.pid" --bridge none \
  --exec-root "$exec_root" --init-binary "$BUILD/berth-init" --config-file /dev/null/none >"$work/berthd.log" 2>&1 & berthd_pid=$!
for _ in $(seq 100); do "$BUILD/berth" -H "unix://$work/berth.sock" version >/dev/null 2>&1 && break; sleep 0.2; done
BERTH=("$BUILD/berth" -H "unix://$work/berth.sock")
"${BERTH[@]}" load -q -i .build/test-image/busybox-test.tar >/dev/null
# One container kept to copy its initramfs (shared one + spec) and root disk for the raw run.
"${BERTH[@]}" run --name keep --network none --isolation vm busybox:test true
cdir="$work/berth/containers/$("${BERTH[@]}" inspect -f '{{.Id}}' keep)/vm"
cp "$cdir/initrd.cpio" "$work/iso-initrd.cpio"; cp "$cdir/root.qcow2" "$work/iso-root.qcow2"
kernel=$(ls /boot/vmlinuz-*-cloud-amd64 | sort -V | tail -1)
accel_opt=$(grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ] && echo "-accel kvm -cpu host" || echo "-accel tcg -cpu max")
bios=(); [ -f /usr/share/qemu/qboot.rom ] && bios=(-bios /usr/share/qemu/qboot.rom)
rawiso=(qemu-system-x86_64 -machine q35 $accel_opt -smp 1 -m 256M -nodefaults -no-user-config -nographic -no-reboot "${bios[@]}"
  -chardev "file,id=console,path=$work/iso-console.log" -serial chardev:console
  -kernel "$kernel" -initrd "$work/iso-initrd.cpio" -append "console=ttyS0 panic=-1 quiet berth.root=/dev/vda berth.agent=1"
  -drive "file=$work/iso-root.qcow2,if=none,id=disk0,format=qcow2,discard=unmap" -device virtio-blk-pci,drive=disk0
  -device virtio-serial-pci,id=vser0
  -chardev "file,id=port0,path=$work/iso-out" -device virtserialport,bus=vser0.0,chardev=port0,name=berth.stdout
  -chardev "file,id=port1,path=$work/iso-err" -device virtserialport,bus=vser0.0,chardev=port1,name=berth.stderr)
[ -n "${BOOT_ONLY:-}" ] || hyperfine -N --warmup 1 --runs "$RUNS" --export-markdown "$work/iso.md" --export-json "$work/iso.json" \
  -n "berth run --rm --isolation vm busybox:test true" "$(q "${BERTH[@]}" run --rm --network none --isolation vm busybox:test true)" \
  -n "raw qemu, same kernel/initramfs/disk/ports" "$(q "${rawiso[@]}")"

# `berth vm start` through berthd, to the guest's power-off, vs the same QEMU argv raw. The VM
# (no network: berthd runs with --bridge none) prints a marker and powers off; the berth side is
# `berth vm start` then `berth vm console` (stdin at EOF), which ends when QEMU closes the console.
# The raw argv is the one berthd's QEMU ran (read from /proc on a first boot), minus -S and QMP,
# with the console as a file: same kernel, initramfs, root disk and devices.
"${BERTH[@]}" vm create --image busybox:test --name bootbench --cpus 1 --memory 256m --disk-size 1g -- echo BERTH-BOOT-MARKER >/dev/null
"${BERTH[@]}" vm start bootbench
qpid=
vmid=$("${BERTH[@]}" vm inspect -f '{{.Id}}' bootbench)
for _ in $(seq 100); do qpid=$(pgrep -f "qemu-system-x86_64 -name guest=(bootbench|$vmid)," | head -1) && [ -n "$qpid" ] && break; sleep 0.05; done
[ -n "$qpid" ] || { echo "bench: no QEMU found for the VM $vmid" >&2; ps -eo pid,args | grep -a qemu-system | cut -c1-300 >&2; exit 1; }
mapfile -t rawboot < <(python3 - "/proc/$qpid/cmdline" "$work/boot-console.log" <<'PY'
import sys
a = open(sys.argv[1], "rb").read().split(b"\0")[:-1]
a = [x.decode() for x in a]
out, i = [], 0
while i < len(a):
    x = a[i]
    if x == "-S": i += 1; continue
    if x == "-qmp": i += 2; continue
    if x == "-chardev" and a[i + 1].startswith("socket,id=console,"):
        out += ["-chardev", "file,id=console,path=" + sys.argv[2]]; i += 2; continue
    out.append(x); i += 1
print("\n".join(out))
PY
)
# The console ends when QEMU closes it at power-off; its stdin is kept open (an EOF would make
# QEMU drop the connection at once).
"${BERTH[@]}" vm console bootbench < <(exec sleep 120) > "$work/boot-first.log"
grep -q BERTH-BOOT-MARKER "$work/boot-first.log" || { echo "bench: the marker did not appear" >&2; cat "$work/boot-first.log" >&2; "${BERTH[@]}" vm logs bootbench >&2; exit 1; }
grep -q BERTH-BOOT-MARKER <("${BERTH[@]}" vm logs bootbench)
"${rawboot[@]}"; grep -q BERTH-BOOT-MARKER "$work/boot-console.log" || { echo "bench: raw QEMU printed no marker" >&2; exit 1; }
hyperfine -N --warmup 1 --runs "$RUNS" --export-markdown "$work/boot.md" --export-json "$work/boot.json" \
  --prepare "rm -f $work/boot-console.log" \
  -n "berth vm start + console to power-off (berthd)" "bash -c $(printf '%q' "$(q "${BERTH[@]}" vm start bootbench) >/dev/null && $(q "${BERTH[@]}" vm console bootbench) < <(exec sleep 120) >/dev/null")" \
  -n "raw qemu, the VM's own argv" "$(q "${rawboot[@]}")"

out="bench/results/vm${ISOLATION_ONLY:+-isolation}${BOOT_ONLY:+-berthd}-$(date +%Y-%m-%d).md"
mkdir -p bench/results
accel=$(grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ] && echo kvm || echo tcg)
{
echo "# VM boot, QEMUBackend vs raw qemu, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Machine: $(nproc) cores, host kernel $(uname -r), accelerator $accel, $(qemu-system-x86_64 --version | head -1)."
echo "Guest: $(basename "$(ls /boot/vmlinuz-*-cloud-amd64 | sort -V | tail -1)"), q35, qboot, 1 vCPU, 256 MiB."
echo "Each run: boot, \`true\` (the berthd table: \`echo BERTH-BOOT-MARKER\`) in the root disk, BERTH_GUEST_EXIT=0, poweroff, qemu exits. hyperfine -N, $RUNS runs."
echo "Binaries: $BUILD."
for t in vm iso boot; do
  [ -f "$work/$t.json" ] || continue
  echo
  [ $t = boot ] && echo "\`berth vm\` through berthd: \`berth vm start\` (QEMU spawned paused, QMP, cont) and \`berth vm console\` (bash, stdin held open) until the guest has printed its marker and powered off, vs the QEMU argv berthd ran, raw (no -S, no QMP, console to a file)." && echo
  [ $t = iso ] && echo "\`--isolation vm\`: the berth CLI → berthd (root disk from the image's rootfs on every run, initramfs + spec, boot, Swift agent runs \`true\`, poweroff, json log, rm) vs the raw QEMU argv with that container's files." && echo
  cat "$work/$t.md"
  echo
  python3 - "$work/$t.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"- {r['command']}: median {r['median']*1000:.1f} ms")
PY
done
} > "$out"
echo "bench: wrote $out"
cat "$out"
