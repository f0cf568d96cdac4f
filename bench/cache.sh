#!/usr/bin/env bash
# Registry-cache benchmark (issue 17): the two-machine scenario for each workload of
# /work/shared/bench-workloads. Machine A builds cold and exports its cache to a registry, machine B (an
# empty state: no cache, no base image) builds the unchanged context importing that cache, then an edited
# one. img (--cache-to/--cache-from type=registry,mode=max) beside buildah (--layers --cache-to/--cache-from,
# rootful) and BuildKit's inline cache (dockerd 20.10, BUILDKIT_INLINE_CACHE=1, then --cache-from on an
# emptied daemon), all in the same run. Every client reaches the registry through a counting proxy
# (count-proxy.py), which gives the bytes and layer blob GETs of each B build.
#
# Usage: bench/cache.sh [IMG_BINARY] [RUNS]        (run as root; default RUNS 1)
#        bench/cache.sh --report WORKDIR           (the tables again, from a work directory kept with KEEP=1)
# Environment:
#   WORKLOADS  default "small multistage bigcontext debian-apt"
#   TOOLS      default "img buildah buildkit"; img-rootless (runuser -u ROOTLESS_USER) can be added
#   ROOTLESS_USER  unprivileged user with a subuid/subgid range (default imgtest)
#   KEEP=1     keep the work directory (logs, proxy logs, results) after the run
#   SETTLE_IO, SETTLE_MAX  as for build.sh: before each phase wait (at most SETTLE_MAX s, default 90) until
#              I/O pressure avg10 is below SETTLE_IO % (default 2); SETTLE_MAX=0 disables the wait
# Needs Debian's docker-registry skopeo buildah docker.io runc debootstrap busybox-static, python3, bc, curl.
# Base images are cached under /var/tmp/img-bench (see build.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# report RESULTS_TSV: the tables, per workload, and img's goal ratios (medians over the runs).
report() {
  python3 - "$1" <<'PY'
import collections, statistics, sys
path = sys.argv[1]
rows = collections.defaultdict(list); order = []; tools = []
for line in open(path):
    w, tool, run, ph, t, down, up, lgets, lbytes, steps = line.rstrip("\n").split("\t")
    if w not in order: order.append(w)
    if tool not in tools: tools.append(tool)
    rows[(w, tool, ph)].append((t, int(down), int(up), int(lgets), int(lbytes), steps))
def sec(w, tool, ph):
    v = [r[0] for r in rows[(w, tool, ph)]]
    if not v: return None
    if "fail" in v: return "fail"
    return statistics.median(float(x) for x in v)
def field(w, tool, ph, i):
    v = [r[i] for r in rows[(w, tool, ph)]]
    return None if not v else statistics.median(v) if isinstance(v[0], int) else v[-1]
fs = lambda x: "-" if x is None else x if isinstance(x, str) else f"{x:.2f}"
fc = lambda x: "-" if x is None else f"{x:g}"
mb = lambda x: "-" if x is None else f"{x / 1e6:.2f}"
others = [t for t in tools if not t.startswith("img")]
for w in order:
    print(f"\n{w}:\n")
    print("| tool | A cold | A warm | B unchanged | B after edit | MB down (B unch. / edit) | layer blob GETs (B unch. / edit) | steps run (B unch. / edit) | MB up (A cold) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for t in tools:
        print(f"| {t} | {fs(sec(w, t, 'a-cold'))} | {fs(sec(w, t, 'a-warm'))} | {fs(sec(w, t, 'b-same'))} | {fs(sec(w, t, 'b-edit'))} | "
              f"{mb(field(w, t, 'b-same', 1))} / {mb(field(w, t, 'b-edit', 1))} | {fc(field(w, t, 'b-same', 3))} / {fc(field(w, t, 'b-edit', 3))} | "
              f"{field(w, t, 'b-same', 5)} / {field(w, t, 'b-edit', 5)} | {mb(field(w, t, 'a-cold', 2))} |".replace("/ None", "/ -").replace("None /", "- /"))
    best = [sec(w, t, "b-same") for t in others]; best = [b for b in best if isinstance(b, float)]
    for t in tools:
        if not t.startswith("img"): continue
        b, warm, conf = sec(w, t, "b-same"), sec(w, t, "a-warm"), sec(w, t, "config")
        def goal(x, limit):
            return "-" if x is None else f"{x:.2f} ({'PASS' if x <= limit else 'FAIL'})"
        r1 = b / (warm + conf) if all(isinstance(x, float) for x in (b, warm, conf)) else None
        r2 = b / min(best) if isinstance(b, float) and best else None
        print(f"\n{t}: config fetch {conf if conf is None or isinstance(conf, str) else f'{conf:.3f}'} s; B unchanged / (A warm + config fetch) = {goal(r1, 1.5)}, goal <= 1.5; "
              f"B unchanged / fastest other ({fs(min(best)) if best else '-'} s) = {goal(r2, 0.5)}, goal <= 0.5")
PY
}
if [ "${1:-}" = --report ]; then   # tables again from a kept work directory (KEEP=1)
  report "${2:?usage: cache.sh --report WORKDIR}/results.tsv"; exit 0
fi
IMG=${1:-$here/../.build/release/img}
RUNS=${2:-1}
WORKLOADS=${WORKLOADS:-small multistage bigcontext debian-apt}
TOOLS=${TOOLS:-img buildah buildkit}
RUSER=${ROOTLESS_USER:-imgtest}
WORKLOAD_SRC=${WORKLOAD_SRC:-/work/shared/bench-workloads}
CACHE=/var/tmp/img-bench
# The edit build.sh makes: one line appended to this file of the context.
declare -A EDIT_FILE=([small]=hello.txt [multistage]=seed-a.txt [bigcontext]=small/d00/f0000.txt [debian-apt]=marker.txt)

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need docker-registry docker-registry; need skopeo skopeo; need bc bc; need curl curl; need python3 python3
[[ " $TOOLS " == *" buildah "* ]] && { need buildah buildah; need runc runc; }
[[ " $TOOLS " == *" buildkit "* ]] && { need dockerd docker.io; [ -x /usr/bin/docker ] || missing+=(docker.io); }
[ "${#missing[@]}" = 0 ] || { echo "missing tools; install them with: apt-get install -y ${missing[*]}" >&2; exit 1; }
[ -x "$IMG" ] || { echo "no img binary at $IMG" >&2; exit 1; }

mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/cache.XXXXXX"); chmod 755 "$work"
results=$work/results.tsv; : > "$results"
mkdir -p "$work/logs"
DOCKERD_PID=
stop_dockerd() {
  [ -n "$DOCKERD_PID" ] || return 0
  kill "$DOCKERD_PID" 2>/dev/null || true; wait "$DOCKERD_PID" 2>/dev/null || true
  DOCKERD_PID=
}
stop_proxy() {
  [ -f "$1/proxy.pid" ] || return 0
  kill "$(cat "$1/proxy.pid")" 2>/dev/null || true; wait "$(cat "$1/proxy.pid")" 2>/dev/null || true
  rm -f "$1/proxy.pid"
}
# Unmounts what buildah or dockerd left mounted under DIR, then deletes DIR.
remove_tree() {
  { grep -o " $1/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$1"
}
cleanup() {
  stop_dockerd
  for d in "$work"/reg-*; do [ -d "$d" ] && { stop_proxy "$d"; stop_registry "$d"; }; done
  for d in "$work"/buildah-*; do
    [ -d "$d" ] && { buildah --root "$d/storage" --runroot "$d/run" rm -a >/dev/null 2>&1 || true; }
  done
  { grep -o " $work/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# start_proxy DIR UPSTREAM: count-proxy.py in front of UPSTREAM, logging to DIR/proxy.log; prints host:port.
start_proxy() {
  local dir=$1 up=$2
  rm -f "$dir/proxy.port"; : > "$dir/proxy.log"
  python3 "$here/count-proxy.py" "$up" "$dir/proxy.log" "$dir/proxy.port" > /dev/null 2> "$dir/proxy.err" &
  echo $! > "$dir/proxy.pid"
  for _ in $(seq 100); do
    [ -s "$dir/proxy.port" ] && curl -sf "http://127.0.0.1:$(cat "$dir/proxy.port")/v2/" >/dev/null 2>&1 &&
      { echo "127.0.0.1:$(cat "$dir/proxy.port")"; return 0; }
    sleep 0.1
  done
  echo "proxy in $dir did not start: $(cat "$dir/proxy.err")" >&2
  return 1
}

# transfer LOG FROM_LINE STORAGE: what the requests logged after line FROM_LINE moved, as
# "DOWN_BYTES UP_BYTES LAYER_GETS LAYER_BYTES": GET response bytes (manifests, configs, layers), request
# body bytes, and the GETs of layer blobs (a blob whose stored bytes start as gzip or zstd does).
transfer() {
  python3 - "$@" <<'PY'
import os, re, sys
log, start, storage = sys.argv[1], int(sys.argv[2]), sys.argv[3]
down = up = lgets = lbytes = 0
for i, line in enumerate(open(log)):
    if i < start: continue
    f = line.rstrip("\n").split("\t")
    if len(f) < 7: continue
    method, path, status, out, sent = f[2], f[3], int(f[4]), int(f[5]), int(f[6])
    up += sent
    if method != "GET": continue
    down += out
    m = re.search(r"/blobs/sha256:([0-9a-f]{64})", path)
    if m and status in (200, 206):
        data = os.path.join(storage, "docker/registry/v2/blobs/sha256", m[1][:2], m[1], "data")
        try: head = open(data, "rb").read(4)
        except OSError: head = b""
        if head[:2] == b"\x1f\x8b" or head == b"\x28\xb5\x2f\xfd":
            lgets += 1; lbytes += out
print(down, up, lgets, lbytes)
PY
}

# steps LOG TOOL: "RAN/TOTAL" build steps (FROM not counted) in a build's output: img and BuildKit print
# plain progress (`#N [stage i/n] STEP`, then `#N CACHED` or `#N DONE`), buildah `STEP i/n:` lines and
# one `--> Using cache` per step it did not run (after `--> Cache pulled from remote` for a remote hit).
steps() {
  python3 - "$@" <<'PY'
import re, sys
text, tool = open(sys.argv[1], errors="replace").read().splitlines(), sys.argv[2]
ran = total = 0
if tool == "buildah":
    # With --jobs, stages' lines interleave (`[stage/n] STEP i/m:` prefixes, cache lines without one), so
    # count: each step buildah did not run prints one `--> Using cache`.
    for line in text:
        m = re.search(r"STEP \d+/\d+: (\w+)", line)
        if m and m[1].upper() != "FROM": total += 1
        if line.startswith("--> Using cache"): ran -= 1
    ran += total
else:
    titles, state = {}, {}
    for line in text:
        m = re.match(r"(#\d+) \[([^\]]*\d+/\d+)\] (\S+)", line)
        if m:
            if m[3].upper() != "FROM": titles[m[1]] = m[3]
            continue
        m = re.match(r"(#\d+) (CACHED|DONE)", line)
        if m and m[1] in titles: state[m[1]] = m[2]
    total = len(titles); ran = sum(1 for v in state.values() if v == "DONE")
print(f"{ran}/{total}")
PY
}

# config_fetch HOST REPO TAG: seconds to fetch a cache's manifest and its config blob (two GETs on fresh
# connections, as a client's first requests are), the best of three.
config_fetch() {
  python3 - "$@" <<'PY'
import json, sys, time, urllib.request
host, repo, tag = sys.argv[1:4]
accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
best = None
for _ in range(3):
    s = time.monotonic()
    m = urllib.request.urlopen(urllib.request.Request(f"http://{host}/v2/{repo}/manifests/{tag}", headers={"Accept": accept})).read()
    urllib.request.urlopen(f"http://{host}/v2/{repo}/blobs/{json.loads(m)['config']['digest']}").read()
    t = time.monotonic() - s
    best = t if best is None else min(best, t)
print(f"{best:.3f}")
PY
}

# --- contexts, base images, tool configuration -------------------------------------------------
base_layouts "$CACHE" "$WORKLOADS"
"$WORKLOAD_SRC/gen.sh" "$work/ctx" > "$work/gen.log"
chmod -R a+rX "$work/ctx"
mkdir -p "$work/orig"
for w in $WORKLOADS; do cp -p "$work/ctx/$w/${EDIT_FILE[$w]}" "$work/orig/$w"; done

export XDG_CONFIG_HOME=$work/config
export CONTAINERS_REGISTRIES_CONF=$work/registries.conf
export BUILDAH_RUNTIME=$(command -v runc || true)   # crun 1.8 fails on this host
export DOCKER_CONFIG=$work/docker-config DOCKER_BUILDKIT=1   # no credentials or settings of the host's docker
mkdir -p "$DOCKER_CONFIG"
ruid=$(id -u "$RUSER" 2>/dev/null || echo)
rl_home=$work/rootless
if [[ " $TOOLS " == *" img-rootless "* ]]; then
  [ -n "$ruid" ] || { echo "img-rootless needs the user $RUSER" >&2; exit 1; }
  mkdir -p "$rl_home/config"; chown -R "$RUSER:" "$rl_home"
  rl_run=/run/user/$ruid; mkdir -p "$rl_run"; chown "$RUSER:" "$rl_run"; chmod 700 "$rl_run"
fi
user_env=(runuser -u "$RUSER" -- env HOME="$rl_home" XDG_RUNTIME_DIR="/run/user/$ruid" XDG_CONFIG_HOME="$rl_home/config")

# configure PROXY: img (config.toml, root's and the rootless user's) and buildah (registries.conf) speak
# plain HTTP to the proxy.
configure() {
  img_http_config "$XDG_CONFIG_HOME" "$1"
  if [ -d "$rl_home/config" ]; then rm -rf "$rl_home/config/img"; cp -r "$XDG_CONFIG_HOME/img" "$rl_home/config/"; chown -R "$RUSER:" "$rl_home/config"; fi
  printf 'unqualified-search-registries = []\n\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$1" > "$CONTAINERS_REGISTRIES_CONF"
  chmod 644 "$CONTAINERS_REGISTRIES_CONF"
}

# start_dockerd DIR PROXY: dockerd 20.10 on an empty data root DIR/data, its own socket, no bridge.
start_dockerd() {
  local dk=$1
  remove_tree "$dk"; mkdir -p "$dk"
  printf '{"bridge": "none", "iptables": false, "ip-masq": false, "insecure-registries": ["%s"], "features": {"buildkit": true}}\n' "$2" > "$dk/daemon.json"
  dockerd --config-file "$dk/daemon.json" --data-root "$dk/data" --exec-root "$dk/exec" --pidfile "$dk/dockerd.pid" \
    -H "unix://$dk/docker.sock" > "$dk/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  export DOCKER_HOST=unix://$dk/docker.sock
  for _ in $(seq 150); do
    /usr/bin/docker version >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "dockerd did not start: $(tail -3 "$dk/dockerd.log")" >&2
  return 1
}

# --- the scenario ------------------------------------------------------------------------------
# Per tool: machine A (cold build exporting the cache, then a warm local rebuild), machine B (empty: the
# unchanged build importing the cache, then the edited one). The `cmd` array is set per phase; `ref` is the
# tool's cache reference in the workload's registry.
build_cmd() {   # TOOL MACHINE PHASE WORKLOAD
  local tool=$1 m=$2 phase=$3 w=$4 ctx=$work/ctx/$4
  local args=(--build-arg "REGISTRY=$proxy" "$ctx")
  case $tool in
    img|img-rootless)
      local st=$work/img-$m pre=()
      [ "$tool" = img-rootless ] && { st=$rl_home/img-$m; pre=("${user_env[@]}"); }
      cmd=("${pre[@]}" "$IMG" -s "$st" build --progress plain -t "bench/$w:latest")
      case $phase in
        a-cold) cmd+=(--cache-to "type=registry,ref=$ref,mode=max") ;;
        b-*)    cmd+=(--cache-from "type=registry,ref=$ref") ;;
      esac
      cmd+=("${args[@]}") ;;
    buildah)
      cmd=(buildah --storage-driver overlay --root "$work/buildah-$m/storage" --runroot "$work/buildah-$m/run"
           build --layers --jobs 3 --network host --tls-verify=false -t "bench/$w:latest")
      case $phase in
        a-cold) cmd+=(--cache-to "$ref") ;;
        b-*)    cmd+=(--cache-from "$ref") ;;
      esac
      cmd+=("${args[@]}") ;;
    buildkit)
      case $phase in
        a-cold) cmd=(buildkit_export "$ctx") ;;
        a-warm) cmd=(/usr/bin/docker build --progress plain --network host --build-arg BUILDKIT_INLINE_CACHE=1 -t "$ref" "${args[@]}") ;;
        b-*)    cmd=(/usr/bin/docker build --progress plain --network host --cache-from "$ref" -t "bench/$w:latest" "${args[@]}") ;;
      esac ;;
  esac
}
# BuildKit's inline cache travels in the image: A's export is the build and its push.
buildkit_export() {
  /usr/bin/docker build --progress plain --network host --build-arg BUILDKIT_INLINE_CACHE=1 --build-arg "REGISTRY=$proxy" -t "$ref" "$1" &&
    /usr/bin/docker push "$ref"
}

# machine TOOL MACHINE: an empty machine (state dir, buildah storage, dockerd data root).
machine() {
  case $1 in
    img)          remove_tree "$work/img-$2" ;;
    img-rootless) remove_tree "$rl_home/img-$2" ;;
    buildah)      remove_tree "$work/buildah-$2" ;;
    buildkit)     stop_dockerd; start_dockerd "$work/docker-$2" "$proxy" ;;
  esac
}
drop_machine() {
  case $1 in
    img)          remove_tree "$work/img-$2" ;;
    img-rootless) remove_tree "$rl_home/img-$2" ;;
    buildah)      buildah --root "$work/buildah-$2/storage" --runroot "$work/buildah-$2/run" rm -a >/dev/null 2>&1 || true
                  remove_tree "$work/buildah-$2" ;;
    buildkit)     stop_dockerd; remove_tree "$work/docker-$2" ;;
  esac
}

record() { printf '%s\n' "$*" | tr ' ' '\t' >> "$results"; }

phase() {   # TOOL MACHINE PHASE WORKLOAD RUN
  local tool=$1 m=$2 ph=$3 w=$4 r=$5 log=$work/logs/$1-$4-r$5-$3.log t from xfer st
  sync; settle_io "${SETTLE_MAX:-90}"
  build_cmd "$tool" "$m" "$ph" "$w"
  from=$(wc -l < "$regdir/proxy.log")
  t=$(timed "$log" "${cmd[@]}")
  sleep 0.2   # the proxy logs a request once its response is sent
  xfer=$(transfer "$regdir/proxy.log" "$from" "$regdir/storage")
  st=$(steps "$log" "$tool")
  record "$w" "$tool" "$r" "$ph" "$t" $xfer "$st"
  say "$w $tool run $r $ph: ${t}s, down/up/layer GETs/layer bytes: $xfer, steps ran $st"
}

scenario() {   # TOOL WORKLOAD RUN
  local tool=$1 w=$2 r=$3
  case $tool in
    img|img-rootless) ref=$proxy/cache/$w:latest ;;
    buildah)          ref=$proxy/buildah-cache/$w ;;
    buildkit)         ref=$proxy/buildkit/$w:latest ;;
  esac
  machine "$tool" A
  phase "$tool" A a-cold "$w" "$r"
  if [[ $tool == img* ]]; then record "$w" "$tool" "$r" config "$(config_fetch "$proxy" "cache/$w" latest)" 0 0 0 0 -; fi
  phase "$tool" A a-warm "$w" "$r"
  drop_machine "$tool" A
  machine "$tool" B
  phase "$tool" B b-same "$w" "$r"
  echo "edit $tool run $r $(date +%s%N)" >> "$work/ctx/$w/${EDIT_FILE[$w]}"
  phase "$tool" B b-edit "$w" "$r"
  cp -p "$work/orig/$w" "$work/ctx/$w/${EDIT_FILE[$w]}"
  drop_machine "$tool" B
}

say "tools: $TOOLS; workloads: $WORKLOADS; runs: $RUNS; $(uptime | sed 's/.*load/load/')"
started=$(date +%s)
for r in $(seq "$RUNS"); do
  for w in $WORKLOADS; do
    # A fresh registry per workload and run, so no export finds blobs an earlier one pushed.
    regdir=$work/reg-$w-r$r
    reg=$(start_registry "$regdir")
    push_bases "$CACHE" "$reg"
    proxy=$(start_proxy "$regdir" "$reg")
    configure "$proxy"
    say "$w run $r: registry $reg behind proxy $proxy"
    for tool in $TOOLS; do scenario "$tool" "$w" "$r"; done
    stop_proxy "$regdir"; stop_registry "$regdir"
    cp "$regdir/proxy.log" "$work/logs/proxy-$w-r$r.log"; rm -rf "$regdir"
  done
done
elapsed=$(( $(date +%s) - started ))

# --- report ------------------------------------------------------------------------------------
echo
echo "img $("$IMG" version 2>/dev/null | awk -F': ' '/git commit/ {print $2}')$([[ " $TOOLS " == *" buildah "* ]] && echo ", $(buildah --version | cut -d' ' -f1-3)")$([[ " $TOOLS " == *" buildkit "* ]] && echo ", dockerd $(dockerd --version | cut -d' ' -f3 | tr -d ,) (BuildKit)"); $(nproc) cores; runs $RUNS; bench took ${elapsed}s; $(uptime | sed 's/.*load/load/')"
report "$results"
if grep -q FAILED "$work"/logs/*.log 2>/dev/null; then
  echo; echo "failures (command and last lines of output):"
  for f in "$work"/logs/*.log; do
    grep -q FAILED "$f" || continue
    echo "--- $(basename "$f")"; grep -B8 FAILED "$f" | head -40
  done
fi
echo; echo "raw results and logs: $work (kept only with KEEP=1)"
