#!/usr/bin/env bash
# The monitor's memory: 100 idle containers (`sleep`), then the PSS of each berth-init monitor
# (from /proc/PID/smaps_rollup; PSS splits shared pages between the processes sharing them, so
# the sum over all monitors is their real cost). Goal: <= 0.3 MiB per container.
# Usage: bench/monitor-memory.sh [COUNT]. Writes bench/results/monitor-memory.md.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100}
[ -x .build/release/berth-init ] || swift build -c release
[ -d .build/test-image/rootfs ] || scripts/make-test-image >/dev/null
berth=$PWD/.build/release/berth-init
work=$(mktemp -d /tmp/berth-mem.XXXXXX)
root=$work/state
cleanup() {
  for id in $(seq 1 "$count"); do "$berth" --root "$root" delete --force "m$id" >/dev/null 2>&1 || true; done
  rmdir /sys/fs/cgroup/*/berth-bench-mem 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
bundle=$work/bundle
mkdir -p "$bundle"
cp -a .build/test-image/rootfs "$bundle/rootfs"
"$berth" spec --bundle "$bundle" --args 'exec sleep 3600'
for id in $(seq 1 "$count"); do
  python3 - "$bundle/config.json" "$id" <<'PY'
import json, sys
p, i = sys.argv[1], sys.argv[2]
c = json.load(open(p)); c["linux"]["cgroupsPath"] = f"/berth-bench-mem/m{i}"
json.dump(c, open(p, "w"))
PY
  "$berth" --root "$root" run --detach --bundle "$bundle" "m$id"
done
sleep 1
python3 - "$root" "$count" <<'PY' | tee bench/results/monitor-memory.md
import json, os, sys, datetime
root, count = sys.argv[1], int(sys.argv[2])
def rollup(pid):
    vals = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        parts = line.split()
        if len(parts) >= 3 and parts[0].endswith(":") and parts[2] == "kB":
            vals[parts[0][:-1]] = int(parts[1])
    return vals
pss = priv = rss = 0
n = 0
for cid in sorted(os.listdir(root)):
    st = json.load(open(os.path.join(root, cid, "state.json")))
    v = rollup(st["monitorPid"])
    pss += v["Pss"]; priv += v.get("Private_Dirty", 0) + v.get("Private_Clean", 0); rss += v["Rss"]; n += 1
print(f"# monitor memory: {n} idle containers")
print()
print(f"{datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%SZ')}, kernel {os.uname().release}")
print()
print(f"| per monitor | PSS | private | RSS |")
print(f"|---|---|---|---|")
print(f"| mean | {pss / n / 1024:.3f} MiB | {priv / n / 1024:.3f} MiB | {rss / n / 1024:.3f} MiB |")
print()
print(f"Total PSS of {n} monitors: {pss / 1024:.1f} MiB.")
PY
