#!/usr/bin/env bash
# Image benchmarks, berthd vs dockerd (Debian's docker.io) side by side in one run:
#   - docker load of a large archive (default 1 GiB in 4 layers): time and MB/s
#   - docker images with 1,000 images
#   - requests/s for /_ping and /images/json (same Python keep-alive client for both)
# Both daemons run on private roots under /tmp (same disk) and are stopped at the end.
# Results: bench/results/images-<date>.md
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${MB:-1024}
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
berthd_pid=; dockerd_pid=
cleanup() {
  [ -n "$berthd_pid" ] && kill "$berthd_pid" 2>/dev/null && wait "$berthd_pid" 2>/dev/null || true
  [ -n "$dockerd_pid" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null || true
  grep -o " $work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
[ -x .build/release/berthd ] || swift build -c release
echo "bench: making archives in $work"
python3 bench/make-archives.py big "$work/big.tar" "$MB"
python3 bench/make-archives.py many "$work/many.tar" 1000
size_mb=$(( $(stat -c %s "$work/big.tar") / 1048576 ))

.build/release/berthd --root "$work/berth" -H "unix://$work/berth.sock" --pidfile "$work/berthd.pid" --bridge none \
  --config-file /dev/null/none >"$work/berthd.log" 2>&1 & berthd_pid=$!
dockerd --storage-driver=overlay2 --data-root "$work/docker" --exec-root "$work/docker-exec" \
  -H "unix://$work/docker.sock" --pidfile "$work/docker.pid" --bridge=none --iptables=false --ip6tables=false \
  --containerd-namespace berth-bench --containerd-plugins-namespace berth-bench-p >"$work/dockerd.log" 2>&1 & dockerd_pid=$!
for s in berth docker; do
  for _ in $(seq 100); do DOCKER_HOST=unix://$work/$s.sock docker version >/dev/null 2>&1 && break; sleep 0.2; done
done
B="DOCKER_HOST=unix://$work/berth.sock"; D="DOCKER_HOST=unix://$work/docker.sock"
out="bench/results/images-$(date +%Y-%m-%d).md"
mkdir -p bench/results
{
echo "# Image benchmarks, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), roots on $(df -T /tmp | awk 'NR==2{print $2}') (/tmp). dockerd: $(dockerd --version)."
echo
echo "## docker load of a ${size_mb} MiB archive (4 layers, uncompressed), then rmi"
echo
} > "$out"
hyperfine --warmup 1 --runs 5 --export-markdown "$work/load.md" \
  --prepare "env $B docker rmi -f bench/big:1 >/dev/null 2>&1 || true; env $D docker rmi -f bench/big:1 >/dev/null 2>&1 || true; sync" \
  -n "berthd load" "env $B docker load -i $work/big.tar" \
  -n "dockerd load" "env $D docker load -i $work/big.tar"
cat "$work/load.md" >> "$out"
python3 - "$work/load.md" "$size_mb" >> "$out" <<'PY'
import sys
rows = [l for l in open(sys.argv[1]) if l.startswith("| `")]
for r in rows:
    cells = [c.strip() for c in r.strip().strip("|").split("|")]
    mean = float(cells[1].split("±")[0].strip())
    unit = 1000.0 if "ms" in open(sys.argv[1]).read().split("\n")[0] else 1.0
    print(f"\n{cells[0]}: {int(sys.argv[2]) / (mean / unit):.0f} MB/s (mean)")
PY
env $B docker load -q -i "$work/many.tar" >/dev/null
env $D docker load -q -i "$work/many.tar" >/dev/null
{ echo; echo "## docker images with 1,000 images"; echo; } >> "$out"
hyperfine --warmup 3 --runs 30 --export-markdown "$work/list.md" \
  -n "berthd images" "env $B docker images -q" -n "dockerd images" "env $D docker images -q"
cat "$work/list.md" >> "$out"
{ echo; echo "## Requests per second (8 keep-alive connections, 5 s, Python client)"; echo; echo "| path | berthd | dockerd |"; echo "|---|---|---|"; } >> "$out"
for p in /_ping /images/json; do
  b=$(python3 bench/api-rps.py "$work/berth.sock" "$p" 5 8)
  d=$(python3 bench/api-rps.py "$work/docker.sock" "$p" 5 8)
  echo "| $p (1,000 images) | $b | $d |" >> "$out"
done
echo "bench: wrote $out"
cat "$out"
