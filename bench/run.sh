#!/usr/bin/env bash
# `docker run --rm --network none busybox:test true` end to end, berthd vs dockerd (Debian's
# docker.io 20.10 with its containerd and runc) side by side in one hyperfine run; `berth run`
# the same; and `docker version` as the CLI's own floor (a Go binary starting and one request).
# Both daemons run on private roots under /tmp and are stopped at the end.
# Results: bench/results/run-<date>.md
RUNS=${RUNS:-50}
source "$(dirname "$0")/lib.sh"
bench_start --bridge none -- --bridge=none
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
bench_medians "$work/run.json"
} > "$out"
echo "bench: wrote $out"
cat "$out"
