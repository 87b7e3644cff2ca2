# Shared set-up for the benches that run berthd and dockerd side by side: a private work dir,
# both daemons on private roots and sockets, the test image loaded into both, and a cleanup
# (containers, networks, daemons, mounts, the work dir) on exit. Source it, then call
# `bench_start BERTHD_ARGS -- DOCKERD_ARGS`. Extra cleanup: define `bench_cleanup_extra`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# /var/tmp, not /tmp: on these machines /tmp's directories sit in crowded ext4 block groups
# (thousands of build leftovers), where creating an inode costs ~0.5 ms instead of ~20 µs —
# extracting busybox's 400 links there took 160 ms. Daemons' real roots (/var/lib) are like
# /var/tmp. Both daemons share the work dir, so the comparison stays fair either way.
work=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
berthd_pid=; dockerd_pid=
exec_root=/run/berth/bench-$$
B="DOCKER_HOST=unix://$work/berth.sock"; D="DOCKER_HOST=unix://$work/docker.sock"
bench_cleanup() {
  for s in berth docker; do
    ids=$(DOCKER_HOST=unix://$work/$s.sock docker ps -aq 2>/dev/null || true)
    [ -n "$ids" ] && DOCKER_HOST=unix://$work/$s.sock docker rm -f $ids >/dev/null 2>&1 || true
    DOCKER_HOST=unix://$work/$s.sock docker network prune -f >/dev/null 2>&1 || true
  done
  [ -n "$berthd_pid" ] && kill "$berthd_pid" 2>/dev/null && wait "$berthd_pid" 2>/dev/null || true
  [ -n "$dockerd_pid" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null || true
  if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra || true; fi
  grep -o " $work[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work" "$exec_root"
}
trap bench_cleanup EXIT
for b in berthd berth berth-init; do [ -x .build/release/$b ] || { swift build -c release; break; }; done
[ -f .build/test-image/busybox-test.tar ] || scripts/make-test-image

# bench_start [berthd args…] -- [dockerd args…]
bench_start() {
  local bargs=() dargs=() seen=
  for a in "$@"; do
    if [ "$a" = "--" ]; then seen=1; elif [ -n "$seen" ]; then dargs+=("$a"); else bargs+=("$a"); fi
  done
  .build/release/berthd --root "$work/berth" -H "unix://$work/berth.sock" --pidfile "$work/berthd.pid" \
    --exec-root "$exec_root" --config-file /dev/null/none "${bargs[@]}" >"$work/berthd.log" 2>&1 & berthd_pid=$!
  dockerd --storage-driver=overlay2 --data-root "$work/docker" --exec-root "$work/docker-exec" \
    -H "unix://$work/docker.sock" --pidfile "$work/docker.pid" --iptables=false --ip6tables=false \
    --containerd-namespace berth-bench --containerd-plugins-namespace berth-bench-p "${dargs[@]}" \
    >"$work/dockerd.log" 2>&1 & dockerd_pid=$!
  for s in berth docker; do
    for _ in $(seq 100); do DOCKER_HOST=unix://$work/$s.sock docker version >/dev/null 2>&1 && break; sleep 0.2; done
    DOCKER_HOST=unix://$work/$s.sock docker load -q -i .build/test-image/busybox-test.tar >/dev/null
  done
}

# Markdown lines "- NAME: median X ms" from a hyperfine JSON export.
bench_medians() {
  python3 - "$1" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"- {r['command']}: median {r['median']*1000:.1f} ms")
PY
}
