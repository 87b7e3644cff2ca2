#!/usr/bin/env bash
# `docker run --rm --network none busybox:test true` end to end, berthd vs dockerd (Debian's
# docker.io 20.10 with its containerd and runc) side by side in one hyperfine run; `berth run`
# the same; and `docker version` as the CLI's own floor (a Go binary starting and one request).
# Both daemons run on private roots under /tmp and are stopped at the end.
# Results: bench/results/run-<date>.md
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-50}
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
berthd_pid=; dockerd_pid=
cleanup() {
  for s in berth docker; do
    ids=$(DOCKER_HOST=unix://$work/$s.sock docker ps -aq 2>/dev/null || true)
    [ -n "$ids" ] && DOCKER_HOST=unix://$work/$s.sock docker rm -f $ids >/dev/null 2>&1 || true
  done
  [ -n "$berthd_pid" ] && kill "$berthd_pid" 2>/dev/null && wait "$berthd_pid" 2>/dev/null || true
  [ -n "$dockerd_pid" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null || true
  grep -o " $work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work" /run/berth/bench-run
}
trap cleanup EXIT
for b in berthd berth berth-init; do [ -x .build/release/$b ] || { swift build -c release; break; }; done
[ -f .build/test-image/busybox-test.tar ] || scripts/make-test-image

.build/release/berthd --root "$work/berth" -H "unix://$work/berth.sock" --pidfile "$work/berthd.pid" --bridge none \
  --exec-root /run/berth/bench-run --config-file /dev/null/none >"$work/berthd.log" 2>&1 & berthd_pid=$!
dockerd --storage-driver=overlay2 --data-root "$work/docker" --exec-root "$work/docker-exec" \
  -H "unix://$work/docker.sock" --pidfile "$work/docker.pid" --bridge=none --iptables=false --ip6tables=false \
  --containerd-namespace berth-bench --containerd-plugins-namespace berth-bench-p >"$work/dockerd.log" 2>&1 & dockerd_pid=$!
for s in berth docker; do
  for _ in $(seq 100); do DOCKER_HOST=unix://$work/$s.sock docker version >/dev/null 2>&1 && break; sleep 0.2; done
  DOCKER_HOST=unix://$work/$s.sock docker load -q -i .build/test-image/busybox-test.tar >/dev/null
done
B="DOCKER_HOST=unix://$work/berth.sock"; D="DOCKER_HOST=unix://$work/docker.sock"
out="bench/results/run-$(date +%Y-%m-%d).md"
mkdir -p bench/results
hyperfine -N --warmup 5 --runs "$RUNS" --export-markdown "$work/run.md" --export-json "$work/run.json" \
  -n "docker run → berthd" "env $B docker run --rm --network none busybox:test true" \
  -n "docker run → dockerd" "env $D docker run --rm --network none busybox:test true" \
  -n "berth run → berthd" ".build/release/berth -H unix://$work/berth.sock run --rm --network none busybox:test true" \
  -n "docker version → berthd (CLI floor)" "env $B docker version"
{
echo "# docker run, berthd vs dockerd, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Machine: $(nproc) cores, kernel $(uname -r). dockerd: $(dockerd --version) with $(runc --version | head -1)."
echo "Each run: create, attach, wait, start, exit, AutoRemove; hyperfine -N, $RUNS runs after 5 warm-ups."
echo
cat "$work/run.md"
echo
python3 - "$work/run.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"- {r['command']}: median {r['median']*1000:.1f} ms")
PY
} > "$out"
echo "bench: wrote $out"
cat "$out"
