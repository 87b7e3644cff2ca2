#!/usr/bin/env bash
# Dockerfile builds, berthd vs dockerd's classic builder (Debian's docker.io 20.10), side by
# side in one hyperfine run through the same docker CLI (DOCKER_BUILDKIT=0): a 3-step and a
# 20-step Dockerfile, each with --no-cache and fully cached. RUN steps need no network, so both
# daemons run without a default bridge.
# Results: bench/results/build-<date>.md
RUNS=${RUNS:-20}
source "$(dirname "$0")/lib.sh"
bench_start --bridge none -- --bridge=none
out="bench/results/build-$(date +%Y-%m-%d).md"
mkdir -p bench/results "$work/c3" "$work/c20"
echo "three" > "$work/c3/a.txt"
printf 'FROM busybox:test\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b\n' > "$work/c3/Dockerfile"
for i in 1 2 3 4 5 6; do echo "file $i" > "$work/c20/f$i.txt"; done
cat > "$work/c20/Dockerfile" <<'DF'
FROM busybox:test
LABEL bench=twenty
ENV A=1 B=2
ARG V=3
WORKDIR /app
COPY f1.txt ./
RUN cat f1.txt > one
COPY f2.txt ./
RUN cat f2.txt > two
COPY f3.txt ./
RUN cat f3.txt > three
COPY f4.txt ./
RUN cat f4.txt > four
COPY f5.txt ./
RUN cat f5.txt > five
COPY f6.txt ./
RUN cat f6.txt > six
EXPOSE 8080
USER 1000
CMD ["cat", "/app/one"]
DF
export DOCKER_BUILDKIT=0
build() { echo "env $1 DOCKER_BUILDKIT=0 docker build -q $2 -t bench$3 $work/c$3"; }
# Prime both caches.
for s in "$B" "$D"; do for n in 3 20; do env $s docker build -q -t bench$n "$work/c$n" >/dev/null; done; done
hyperfine -N --warmup 2 --runs "$RUNS" --export-markdown "$work/build.md" --export-json "$work/build.json" \
  -n "3 steps, no cache → berthd" "$(build "$B" --no-cache 3)" \
  -n "3 steps, no cache → dockerd" "$(build "$D" --no-cache 3)" \
  -n "3 steps, cached → berthd" "$(build "$B" "" 3)" \
  -n "3 steps, cached → dockerd" "$(build "$D" "" 3)" \
  -n "20 steps, no cache → berthd" "$(build "$B" --no-cache 20)" \
  -n "20 steps, no cache → dockerd" "$(build "$D" --no-cache 20)" \
  -n "20 steps, cached → berthd" "$(build "$B" "" 20)" \
  -n "20 steps, cached → dockerd" "$(build "$D" "" 20)" \
  -n "berth build, 3 steps, no cache → berthd" ".build/release/berth -H unix://$work/berth.sock build -q --no-cache -t bench3 $work/c3" \
  -n "berth build, 3 steps, cached → berthd" ".build/release/berth -H unix://$work/berth.sock build -q -t bench3 $work/c3" \
  -n "berth build, 20 steps, cached → berthd" ".build/release/berth -H unix://$work/berth.sock build -q -t bench20 $work/c20" \
  -n "docker version → berthd (docker CLI floor)" "env $B docker version" \
  -n "berth version → berthd (berth CLI floor)" ".build/release/berth -H unix://$work/berth.sock version"
{
echo "# docker build (classic builder), berthd vs dockerd, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Machine: $(nproc) cores, kernel $(uname -r). dockerd: $(dockerd --version). Client: docker CLI $(docker version -f '{{.Client.Version}}' 2>/dev/null), DOCKER_BUILDKIT=0, -q."
echo "3 steps: FROM, COPY, RUN. 20 steps: FROM, 6 COPY + 6 RUN, LABEL, ENV, ARG, WORKDIR, EXPOSE, USER, CMD."
echo "hyperfine -N, $RUNS runs after 2 warm-ups; caches primed once before. berth build rows: our CLI, same daemon."
echo
cat "$work/build.md"
echo
bench_medians "$work/build.json"
} > "$out"
echo "bench: wrote $out"
cat "$out"
