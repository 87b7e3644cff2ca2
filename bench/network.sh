#!/usr/bin/env bash
# Networking, berthd vs dockerd, in one run:
#  1. `docker run --rm busybox:test true` on the default bridge (a veth pair, an address, the
#     firewall) — hyperfine, both daemons side by side.
#  2. TCP throughput container → container over a bridge (busybox dd | nc), against the same
#     pipe over the host's loopback: the ratio.
# dockerd runs with its own docker0 (--bip in 10.213.200.0/24) and --iptables=false so the host's
# rules stay untouched; both daemons run on private roots under /tmp and are cleaned up.
# Results: bench/results/network-<date>.md
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
MB=${MB:-2000}
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
berthd_pid=; dockerd_pid=
cleanup() {
  for s in berth docker; do
    ids=$(DOCKER_HOST=unix://$work/$s.sock docker ps -aq 2>/dev/null || true)
    [ -n "$ids" ] && DOCKER_HOST=unix://$work/$s.sock docker rm -f $ids >/dev/null 2>&1 || true
    DOCKER_HOST=unix://$work/$s.sock docker network prune -f >/dev/null 2>&1 || true
  done
  [ -n "$berthd_pid" ] && kill "$berthd_pid" 2>/dev/null && wait "$berthd_pid" 2>/dev/null || true
  [ -n "$dockerd_pid" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null || true
  ip link del bbench0 2>/dev/null || true; ip link del docker0 2>/dev/null || true
  nft delete table inet berth_bench 2>/dev/null || true
  grep -o " $work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work" /run/berth/bench-net
}
trap cleanup EXIT
for b in berthd berth berth-init; do [ -x .build/release/$b ] || { swift build -c release; break; }; done
[ -f .build/test-image/busybox-test.tar ] || scripts/make-test-image

.build/release/berthd --root "$work/berth" -H "unix://$work/berth.sock" --pidfile "$work/berthd.pid" \
  --exec-root /run/berth/bench-net --config-file /dev/null/none --bridge bbench0 --firewall-table berth_bench \
  >"$work/berthd.log" 2>&1 & berthd_pid=$!
dockerd --storage-driver=overlay2 --data-root "$work/docker" --exec-root "$work/docker-exec" \
  -H "unix://$work/docker.sock" --pidfile "$work/docker.pid" --bip 10.213.200.1/24 --iptables=false --ip6tables=false \
  --containerd-namespace berth-bench --containerd-plugins-namespace berth-bench-p >"$work/dockerd.log" 2>&1 & dockerd_pid=$!
for s in berth docker; do
  for _ in $(seq 100); do DOCKER_HOST=unix://$work/$s.sock docker version >/dev/null 2>&1 && break; sleep 0.2; done
  DOCKER_HOST=unix://$work/$s.sock docker load -q -i .build/test-image/busybox-test.tar >/dev/null
done
B="DOCKER_HOST=unix://$work/berth.sock"; D="DOCKER_HOST=unix://$work/docker.sock"
hyperfine -N --warmup 5 --runs "$RUNS" --export-markdown "$work/run.md" --export-json "$work/run.json" \
  -n "docker run (default bridge) → berthd" "env $B docker run --rm busybox:test true" \
  -n "docker run (default bridge) → dockerd" "env $D docker run --rm busybox:test true" \
  -n "berth run (default bridge) → berthd" ".build/release/berth -H unix://$work/berth.sock run --rm busybox:test true"

# Throughput: MB MiB through busybox nc, timed with /proc/uptime (busybox dd prints no rate);
# prints MB/s.
timed='a=$(cut -d" " -f1 /proc/uptime); dd if=/dev/zero bs=1M count=$0 2>/dev/null | nc $1 $2; b=$(cut -d" " -f1 /proc/uptime); echo "elapsed $a $b"'
rate() { python3 -c "import sys; t=sys.stdin.read().split(); i=t.index('elapsed'); print(round($MB/(float(t[i+2])-float(t[i+1])),1))"; }
throughput() {  # $1 = socket
  local h="DOCKER_HOST=unix://$work/$1.sock"
  env $h docker network create tput >/dev/null
  env $h docker run -d --name sink --network tput busybox:test sh -c 'sleep 3600 | nc -l -p 5001 > /dev/null' >/dev/null
  sleep 0.5
  env $h docker run --rm --network tput busybox:test sh -c "$timed" "$MB" sink 5001 2>&1 | rate || echo 0
  env $h docker rm -f sink >/dev/null; env $h docker network rm tput >/dev/null
}
berth_rate=$(throughput berth)
docker_rate=$(throughput docker)
(sleep 60 | busybox nc -l -p 5001 > /dev/null &) ; sleep 0.3
host_timed=$(echo "$timed" | sed 's/dd if/busybox dd if/; s/| nc /| busybox nc /')
loop_rate=$(busybox sh -c "$host_timed" "$MB" 127.0.0.1 5001 2>&1 | rate || echo 0)
b=$berth_rate; d=$docker_rate; l=$loop_rate
out="bench/results/network-$(date +%Y-%m-%d).md"
{
echo "# Networking, berthd vs dockerd, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Machine: $(nproc) cores, kernel $(uname -r). dockerd: $(dockerd --version) (--iptables=false)."
echo "run --rm true on the default bridge: create, attach, wait, start (veth pair, address, firewall), exit, AutoRemove; hyperfine -N, $RUNS runs after 5 warm-ups."
echo
cat "$work/run.md"
echo
python3 - "$work/run.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"- {r['command']}: median {r['median']*1000:.1f} ms")
PY
echo
echo "TCP throughput, $MB MiB through busybox nc (timed with /proc/uptime, 10 ms resolution):"
echo
echo "| path | MB/s | vs host loopback |"
echo "|---|---|---|"
python3 - "$b" "$d" "$l" <<'PY'
import sys
b, d, l = map(float, sys.argv[1:])
for name, v in [("container → container, Berth bridge", b), ("container → container, dockerd bridge", d), ("host loopback", l)]:
    print(f"| {name} | {v:.0f} | {v / l:.2f} |" if l else f"| {name} | {v:.0f} | n/a |")
PY
} > "$out"
echo "bench: wrote $out"
cat "$out"
