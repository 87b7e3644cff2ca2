#!/usr/bin/env bash
# Boot of a 1 vCPU / 256 MiB VM running `true` from a busybox root disk, through BerthVM's
# QEMUBackend (`berth-vm run`: checks, spawn with -S, QMP connect, cont, wait, reap) vs the
# same qemu-system-x86_64 argv run raw (without -S). Both end when the guest powers off after
# printing its exit status, so each run is boot + command + shutdown. A third line boots the
# kernel and initramfs alone (no disk, `berth.root=none`).
# Results: bench/results/vm-<date>.md
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
BIN=${BIN:-.build/release/berth-vm}
[ -x "$BIN" ] || swift build -c release --product berth-vm
work=$(mktemp -d /tmp/berth-vm-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

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

hyperfine -N --warmup 2 --runs "$RUNS" --export-markdown "$work/vm.md" --export-json "$work/vm.json" \
  --prepare "rm -f $work/state/raw-console.log" \
  -n "berth-vm run (QEMUBackend)" "$(q "$BIN" run "${opts[@]}" -- true)" \
  -n "raw qemu-system-x86_64, same argv" "$(q "${raw[@]}")" \
  -n "raw qemu, kernel + initramfs only" "$(q "${rawnodisk[@]}")"

out="bench/results/vm-$(date +%Y-%m-%d).md"
mkdir -p bench/results
accel=$(grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ] && echo kvm || echo tcg)
{
echo "# VM boot, QEMUBackend vs raw qemu, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Machine: $(nproc) cores, host kernel $(uname -r), accelerator $accel, $(qemu-system-x86_64 --version | head -1)."
echo "Guest: $(basename "$(ls /boot/vmlinuz-*-cloud-amd64 | sort -V | tail -1)"), q35, qboot, 1 vCPU, 256 MiB."
echo "Each run: boot, \`true\` in the root disk, BERTH_GUEST_EXIT=0, poweroff, qemu exits. hyperfine -N, $RUNS runs."
echo
cat "$work/vm.md"
echo
python3 - "$work/vm.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"- {r['command']}: median {r['median']*1000:.1f} ms")
PY
} > "$out"
echo "bench: wrote $out"
cat "$out"
