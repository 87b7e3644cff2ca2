#!/usr/bin/env bash
# Density: N detached `sleep` containers (--network none), berthd vs dockerd in one run.
#  - time per detached start (`docker run -d`, sequential, wall clock / N)
#  - host memory per container: PSS of the per-container processes the engine adds (berth-init
#    monitors; containerd-shim-runc-v2 for dockerd) plus the daemons' PSS growth, / N
#  - `docker ps` latency with N running (hyperfine)
# dockerd is driven up to ND containers (default 200: it manages fewer per minute here).
# Results: bench/results/density-<date>.md
N=${N:-1000}
ND=${ND:-200}
source "$(dirname "$0")/lib.sh"

# PSS in KiB of processes whose command line matches $1 (a fixed string).
pss() {
  local total=0
  for p in $(pgrep -f -- "$1" || true); do
    v=$(awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup 2>/dev/null || echo 0)
    total=$((total + ${v:-0}))
  done
  echo $total
}
pss_pid() { awk '/^Pss:/{print $2}' /proc/$1/smaps_rollup 2>/dev/null || echo 0; }

bench_start --bridge none -- --bridge=none
containerd_pid=$(pgrep -f "containerd --config $work/docker-exec" | head -1 || true)
[ -z "$containerd_pid" ] && containerd_pid=$(pgrep -P "$dockerd_pid" containerd | head -1 || true)

fill() {  # $1 = sock name, $2 = count → prints seconds
  local h="unix://$work/$1.sock" start end
  start=$(date +%s.%N)
  for i in $(seq "$2"); do DOCKER_HOST=$h docker run -d --network none busybox:test sleep 3600 >/dev/null; done
  end=$(date +%s.%N)
  python3 -c "print($end - $start)"
}

b_before=$(pss_pid "$berthd_pid")
b_secs=$(fill berth "$N")
sleep 2
b_after=$(pss_pid "$berthd_pid")
b_monitors=$(pss "__monitor --root $exec_root")
d_before=$(( $(pss_pid "$dockerd_pid") + $( [ -n "$containerd_pid" ] && pss_pid "$containerd_pid" || echo 0) ))
d_secs=$(fill docker "$ND")
sleep 2
d_after=$(( $(pss_pid "$dockerd_pid") + $( [ -n "$containerd_pid" ] && pss_pid "$containerd_pid" || echo 0) ))
d_shims=$(pss "containerd-shim-runc-v2 -namespace berth-bench")

hyperfine -N --warmup 3 --runs 20 --export-json "$work/ps.json" \
  -n "docker ps → berthd ($N running)" "env DOCKER_HOST=unix://$work/berth.sock docker ps -q" \
  -n "docker ps → dockerd ($ND running)" "env DOCKER_HOST=unix://$work/docker.sock docker ps -q" >/dev/null

out="bench/results/density-$(date +%Y-%m-%d).md"
python3 - "$work/ps.json" "$N" "$ND" "$b_secs" "$d_secs" "$b_before" "$b_after" "$b_monitors" "$d_before" "$d_after" "$d_shims" > "$out" <<'PY'
import json, sys, time
ps = {r["command"]: r["median"] * 1000 for r in json.load(open(sys.argv[1]))["results"]}
n, nd = int(sys.argv[2]), int(sys.argv[3])
bs, ds = float(sys.argv[4]), float(sys.argv[5])
bb, ba, bm, db, da, dsh = map(int, sys.argv[6:12])
def mib(k): return k / 1024
print(f"# Density, berthd vs dockerd, {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}\n")
print("Detached `docker run -d --network none busybox:test sleep 3600`, sequential; PSS from /proc/<pid>/smaps_rollup.\n")
print("| | berthd | dockerd |")
print("|---|---|---|")
print(f"| containers | {n} | {nd} |")
print(f"| time per detached start | {bs / n * 1000:.1f} ms | {ds / nd * 1000:.1f} ms |")
print(f"| per-container processes (PSS) | {mib(bm) / n:.3f} MiB (berth-init monitors) | {mib(dsh) / nd:.3f} MiB (containerd-shim-runc-v2) |")
print(f"| daemon growth (PSS) | {mib(ba - bb) / n:.3f} MiB/container (berthd) | {mib(da - db) / nd:.3f} MiB/container (dockerd + containerd) |")
print(f"| host memory per container | {(mib(bm) + mib(ba - bb)) / n:.3f} MiB | {(mib(dsh) + mib(da - db)) / nd:.3f} MiB |")
for k, v in ps.items(): print(f"| {k} | {v:.1f} ms median | |")
PY
echo "bench: wrote $out"
cat "$out"
