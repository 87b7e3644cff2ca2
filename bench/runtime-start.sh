#!/usr/bin/env bash
# Container start+exit time: `run` of the busybox bundle with `true`, Berth vs runc vs crun, in one
# hyperfine run. The bundle's config.json comes from `runc spec` (args: true), so all three runtimes
# do the same work: pid/net/ipc/uts/mount/cgroup namespaces, the standard mounts, masked and
# read-only paths, a device cgroup.
#
# crun refuses hybrid cgroup hosts (v1 controllers + an empty v2 tree, like this one), so it runs
# in a private mount namespace with /sys/fs/cgroup/unified unmounted:
#   unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified; exec crun run ...'
# That wrapper costs time of its own, so the same wrapper around `true`, and Berth inside the same
# wrapper, are measured too: compare crun with Berth-in-the-wrapper, or subtract the wrapper.
#
# Usage: bench/runtime-start.sh [RUNS]   (default 100). Writes bench/results/runtime-start.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}
[ -x .build/release/berth-init ] || swift build -c release
[ -d .build/test-image/rootfs ] || scripts/make-test-image >/dev/null
berth=$PWD/.build/release/berth-init

work=$(mktemp -d /tmp/berth-bench.XXXXXX)
# State roots on tmpfs, where every runtime keeps them by default (/run/runc, /run/crun,
# /run/berth/runtime): state writes are fsync'ed, which costs milliseconds on a disk.
state=$(mktemp -d /run/berth-bench.XXXXXX)
cleanup() { rm -rf "$work" "$state"; }
trap cleanup EXIT
bundle=$work/bundle
mkdir -p "$bundle"
cp -a .build/test-image/rootfs "$bundle/rootfs"
(cd "$bundle" && runc spec)
python3 - "$bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = ["true"]
c["process"]["terminal"] = False
json.dump(c, open(p, "w"), indent=1)
PY

wrap() { echo "unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec $*'"; }
# Each command runs the same container id again and again; run removes it when it exits.
hyperfine -N --warmup 10 --runs "$runs" \
  --export-json bench/results/runtime-start.json --export-markdown "$work/table.md" \
  -n berth "$berth --root $state/berth run -b $bundle bench" \
  -n runc "runc --root $state/runc run -b $bundle bench" \
  -n "berth (v1 view)" "$(wrap "$berth --root $state/berth2 run -b $bundle bench")" \
  -n "crun (v1 view)" "$(wrap "crun --root $state/crun run -b $bundle bench")" \
  -n "wrapper alone" "$(wrap true)"

{
  echo "# runtime-start: \`run\` of the busybox bundle with \`true\`"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, kernel $(uname -r), $runs runs each, hyperfine -N."
  echo "runc $(runc --version | head -1 | awk '{print $3}'), crun $(crun --version | head -1 | awk '{print $3}')."
  echo "\"v1 view\" = inside \`unshare -m\` with /sys/fs/cgroup/unified unmounted (crun refuses hybrid hosts);"
  echo "\"wrapper alone\" is that wrapper's own cost."
  echo
  cat "$work/table.md"
  echo
  python3 - bench/results/runtime-start.json <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
med = {k: v["median"] * 1000 for k, v in r.items()}
w = med.get("wrapper alone", 0)
print("Medians (ms): " + ", ".join(f"{k} {v:.2f}" for k, v in med.items()))
print(f"Wrapper subtracted: berth {med['berth (v1 view)'] - w:.2f}, crun {med['crun (v1 view)'] - w:.2f}")
PY
} > bench/results/runtime-start.md
cat bench/results/runtime-start.md
