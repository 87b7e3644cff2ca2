#!/usr/bin/env bash
# Push and pull over loopback, side by side in one hyperfine run per image:
#   Berth:   berthd (through the docker CLI) ⇄ berth-registry
#   Docker:  dockerd (Debian's 20.10, same docker CLI) ⇄ distribution 2.8 (Debian's docker-registry)
#   skopeo:  skopeo ⇄ distribution 2.8
#   and berthd ⇄ distribution 2.8, to separate the client from the server.
# Images: busybox:test, and a generated 1 GiB image of 8 layers of 128 MiB (random bytes, so
# compression cannot shrink them). Cold push: the registry is emptied (and restarted) before
# each run. Warm push: the registry has every blob. Cold pull: the image and its layers are
# removed from the daemon before each run. Warm pull: the image is there ("up to date").
# Results: bench/results/registry-<date>.md
RUNS=${RUNS:-15}
BIG_RUNS=${BIG_RUNS:-3}
source "$(dirname "$0")/lib.sh"
bench_start --bridge none -- --bridge=none
out="bench/results/registry-$(date +%Y-%m-%d).md"
mkdir -p bench/results

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PB=$(port); PDIST=$(port)
HB=127.0.0.1:$PB; HD=127.0.0.1:$PDIST
cat > "$work/dist.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/reg-dist
  delete:
    enabled: true
http:
  addr: $HD
EOF
# Registry control scripts: start (waiting until /v2/ answers) and reset (kill, empty, start).
cat > "$work/reg" <<EOF
#!/usr/bin/env bash
set -e
which=\$1; action=\$2
if [ "\$which" = berth ]; then root=$work/reg-berth; url=http://$HB/v2/; pidf=$work/reg-berth.pid
  start() { setsid $PWD/.build/release/berth-registry serve --addr $HB --root \$root >/dev/null 2>&1 < /dev/null & echo \$! > \$pidf; }
else root=$work/reg-dist; url=http://$HD/v2/; pidf=$work/reg-dist.pid
  start() { setsid /usr/bin/docker-registry serve $work/dist.yml >/dev/null 2>&1 < /dev/null & echo \$! > \$pidf; }
fi
if [ "\$action" = reset ]; then
  [ -f \$pidf ] && kill -9 \$(cat \$pidf) 2>/dev/null || true
  for _ in \$(seq 100); do curl -s -o /dev/null \$url || break; sleep 0.02; done
  rm -rf \$root
fi
start
for _ in \$(seq 200); do curl -sf -o /dev/null \$url && exit 0; sleep 0.02; done
echo "registry \$which did not start" >&2; exit 1
EOF
chmod +x "$work/reg"
"$work/reg" berth start; "$work/reg" dist start
bench_cleanup_extra() { for f in "$work"/reg-*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done; }

db() { env "$B" DOCKER_CONFIG="$work/cfg" docker "$@"; }
dd() { env "$D" DOCKER_CONFIG="$work/cfg" docker "$@"; }
# Removes every image of a daemon (a cold pull starts from nothing).
cat > "$work/wipe" <<EOF
#!/usr/bin/env bash
ids=\$(env \$1 docker images -aq | sort -u)
[ -n "\$ids" ] && env \$1 docker rmi -f \$ids >/dev/null 2>&1
env \$1 docker image prune -af >/dev/null 2>&1 || true
exit 0
EOF
chmod +x "$work/wipe"

# The 1 GiB image, built by berthd and copied into dockerd.
mkdir -p "$work/big"
{ echo "FROM busybox:test"; for i in 1 2 3 4 5 6 7 8; do echo "RUN head -c 134217728 /dev/urandom > /layer$i"; done; } > "$work/big/Dockerfile"
DOCKER_BUILDKIT=0 db build -q -t big:1 "$work/big" >/dev/null
db save big:1 | dd load -q >/dev/null

# Tag both images for both registries; the first pushes fill them (for warm pushes and pulls).
for img in busybox:test big:1; do
  name=${img%%:*}
  for h in $HB $HD; do db tag $img $h/bench/$name:1; done
  dd tag $img $HD/bench/$name:1
done
db push -q $HB/bench/busybox:1 >/dev/null; db push -q $HB/bench/big:1 >/dev/null
dd push -q $HD/bench/busybox:1 >/dev/null; dd push -q $HD/bench/big:1 >/dev/null
skopeo_to() { echo "skopeo copy -q --dest-tls-verify=false oci-archive:$PWD/.build/test-image/busybox-test.tar docker://$1/bench/sk:1"; }

echo "bench: busybox push"
hyperfine -N --warmup 1 --runs "$RUNS" --export-markdown "$work/push.md" --export-json "$work/push.json" \
  -n "busybox push, cold: berthd → berth-registry" --prepare "$work/reg berth reset" "env $B DOCKER_CONFIG=$work/cfg docker push -q $HB/bench/busybox:1" \
  -n "busybox push, cold: dockerd → distribution" --prepare "$work/reg dist reset" "env $D DOCKER_CONFIG=$work/cfg docker push -q $HD/bench/busybox:1" \
  -n "busybox push, cold: berthd → distribution" --prepare "$work/reg dist reset" "env $B DOCKER_CONFIG=$work/cfg docker push -q $HD/bench/busybox:1" \
  -n "busybox push, cold: skopeo → distribution" --prepare "$work/reg dist reset" "$(skopeo_to $HD)" \
  -n "busybox push, warm: berthd → berth-registry" --prepare "true" "env $B DOCKER_CONFIG=$work/cfg docker push -q $HB/bench/busybox:1" \
  -n "busybox push, warm: dockerd → distribution" --prepare "true" "env $D DOCKER_CONFIG=$work/cfg docker push -q $HD/bench/busybox:1"

echo "bench: 1 GiB push"
hyperfine -N --runs "$BIG_RUNS" --export-markdown "$work/bigpush.md" --export-json "$work/bigpush.json" \
  -n "1 GiB push, cold: berthd → berth-registry" --prepare "$work/reg berth reset" "env $B DOCKER_CONFIG=$work/cfg docker push -q $HB/bench/big:1" \
  -n "1 GiB push, cold: berthd → distribution" --prepare "$work/reg dist reset" "env $B DOCKER_CONFIG=$work/cfg docker push -q $HD/bench/big:1" \
  -n "1 GiB push, cold: dockerd → distribution" --prepare "$work/reg dist reset" "env $D DOCKER_CONFIG=$work/cfg docker push -q $HD/bench/big:1"

# Refill the registries, then pulls.
"$work/reg" berth reset; "$work/reg" dist reset
db push -q $HB/bench/busybox:1 >/dev/null; db push -q $HB/bench/big:1 >/dev/null
dd push -q $HD/bench/busybox:1 >/dev/null; db push -q $HD/bench/big:1 >/dev/null

echo "bench: busybox pull"
hyperfine -N --warmup 1 --runs "$RUNS" --export-markdown "$work/pull.md" --export-json "$work/pull.json" \
  -n "busybox pull, cold: berthd ← berth-registry" --prepare "$work/wipe $B" "env $B DOCKER_CONFIG=$work/cfg docker pull -q $HB/bench/busybox:1" \
  -n "busybox pull, cold: dockerd ← distribution" --prepare "$work/wipe $D" "env $D DOCKER_CONFIG=$work/cfg docker pull -q $HD/bench/busybox:1" \
  -n "busybox pull, cold: berthd ← distribution" --prepare "$work/wipe $B" "env $B DOCKER_CONFIG=$work/cfg docker pull -q $HD/bench/busybox:1" \
  -n "busybox pull, cold: skopeo ← distribution (to an OCI dir)" --prepare "rm -rf $work/sk" "skopeo copy -q --src-tls-verify=false docker://$HD/bench/busybox:1 oci:$work/sk:x" \
  -n "busybox pull, warm: berthd ← berth-registry" --prepare "true" "env $B DOCKER_CONFIG=$work/cfg docker pull -q $HB/bench/busybox:1" \
  -n "busybox pull, warm: dockerd ← distribution" --prepare "true" "env $D DOCKER_CONFIG=$work/cfg docker pull -q $HD/bench/busybox:1"

echo "bench: 1 GiB pull"
"$work/wipe" "$B"; "$work/wipe" "$D"
hyperfine -N --runs "$BIG_RUNS" --export-markdown "$work/big.md" --export-json "$work/big.json" \
  -n "1 GiB pull, cold: berthd ← berth-registry" --prepare "$work/wipe $B" "env $B DOCKER_CONFIG=$work/cfg docker pull -q $HB/bench/big:1" \
  -n "1 GiB pull, cold: berthd ← distribution" --prepare "$work/wipe $B" "env $B DOCKER_CONFIG=$work/cfg docker pull -q $HD/bench/big:1" \
  -n "1 GiB pull, cold: dockerd ← distribution" --prepare "$work/wipe $D" "env $D DOCKER_CONFIG=$work/cfg docker pull -q $HD/bench/big:1" \
  -n "1 GiB pull, cold: skopeo ← distribution (to an OCI dir)" --prepare "rm -rf $work/sk" "skopeo copy -q --src-tls-verify=false docker://$HD/bench/big:1 oci:$work/sk:x"

{
echo "# Registry push and pull over loopback, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Machine: $(nproc) cores, kernel $(uname -r). dockerd: $(dockerd --version). Client: docker CLI $(docker version -f '{{.Client.Version}}' 2>/dev/null) (-q). skopeo $(skopeo --version | awk '{print $3}'). distribution: $(/usr/bin/docker-registry --version 2>&1 | awk '{print $3}')."
echo "hyperfine -N. Cold push: the registry emptied and restarted before each run. Cold pull: every image removed from the daemon before each run."
echo "busybox:test: $RUNS runs after a warm-up. 1 GiB image (8 layers of 128 MiB of random bytes): $BIG_RUNS runs."
echo "Berth pushes layers as stored (a built image's layers are uncompressed tar); dockerd gzips them on push, which dominates its 1 GiB push. The 1 GiB image is pushed by berthd to both registries, so every pull fetches the same uncompressed layers."
echo
echo "## busybox push"; echo; cat "$work/push.md"; echo
echo "## busybox pull"; echo; cat "$work/pull.md"; echo
echo "## 1 GiB, 8 layers: push"; echo; cat "$work/bigpush.md"; echo
echo "## 1 GiB, 8 layers: pull"; echo; cat "$work/big.md"; echo
echo "## Medians"; echo
bench_medians "$work/push.json"; bench_medians "$work/pull.json"; bench_medians "$work/bigpush.json"; bench_medians "$work/big.json"
echo
python3 - "$work/big.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    if "pull" in r["command"]:
        print(f"- {r['command']}: {1073741824 / r['median'] / 1e9:.2f} GB/s (1 GiB / median)")
PY
} > "$out"
echo "bench: wrote $out"
cat "$out"
