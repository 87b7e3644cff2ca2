#!/usr/bin/env bash
# Networking, berthd vs dockerd, in one run:
#  1. `docker run --rm busybox:test true` on the default bridge (a veth pair, an address, the
#     firewall) — hyperfine, both daemons side by side.
#  2. TCP throughput container → container over a bridge (busybox dd | nc), against the same
#     pipe over the host's loopback: the ratio.
# dockerd runs with its own docker0 (--bip in 10.213.200.0/24) and --iptables=false so the host's
# rules stay untouched; both daemons run on private roots under /tmp and are cleaned up.
# Results: bench/results/network-<date>.md
RUNS=${RUNS:-30}
MB=${MB:-2000}
bench_cleanup_extra() {
  ip link del bbench0 2>/dev/null || true; ip link del docker0 2>/dev/null || true
  nft delete table inet berth_bench 2>/dev/null || true
}
source "$(dirname "$0")/lib.sh"
bench_start --bridge bbench0 --firewall-table berth_bench -- --bip 10.213.200.1/24
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
bench_medians "$work/run.json"
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
