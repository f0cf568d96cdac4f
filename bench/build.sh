#!/usr/bin/env bash
# Build benchmark (issue 5): the four workloads of /work/shared/bench-workloads, phases cold, warm,
# touch, edit and push, img (root and rootless) beside buildah (root and rootless) and BuildKit (dockerd).
# Prints a markdown table of median wall seconds per workload, phase and tool, and img's peak RSS.
#
# Usage: bench/build.sh [IMG_BINARY] [RUNS]        (run as root; default RUNS 3)
# Environment:
#   WORKLOADS  default "small multistage bigcontext debian-apt"
#   TOOLS      default "img img-rootless buildah buildah-rootless buildkit"
#   APT_RUNS   runs for debian-apt (default RUNS)
#   ROOTLESS_USER  unprivileged user with a subuid/subgid range (default imgtest)
#   KEEP=1     keep the work directory (logs, states) after the run
#   SETTLE_IO  before each phase, wait until I/O pressure (avg10, %) is below this (default 2), at most
#              SETTLE_MAX seconds (default 90); SETTLE_MAX=0 disables the wait
# Base images are cached under /var/tmp/img-bench (delete base-* there to rebuild them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
IMG=${1:-$here/../.build/release/img}
RUNS=${2:-3}
APT_RUNS=${APT_RUNS:-$RUNS}
WORKLOADS=${WORKLOADS:-small multistage bigcontext debian-apt}
TOOLS=${TOOLS:-img img-rootless buildah buildah-rootless buildkit}
RUSER=${ROOTLESS_USER:-imgtest}
WORKLOAD_SRC=${WORKLOAD_SRC:-/work/shared/bench-workloads}
CACHE=/var/tmp/img-bench
PHASES="cold warm touch edit push"
declare -A EDIT_FILE=([small]=hello.txt [multistage]=seed-a.txt [bigcontext]=small/d00/f0000.txt [debian-apt]=marker.txt)

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
mkdir -p "$CACHE"
# Under /var/tmp (disk, not tmpfs) and world-readable: the rootless tools read contexts and config here.
work=$(mktemp -d "$CACHE/run.XXXXXX"); chmod 755 "$work"
results=$work/results.tsv; : > "$results"
cleanup() {
  [ -n "${DOCKERD_PID:-}" ] && { kill "$DOCKERD_PID" 2>/dev/null || true; wait "$DOCKERD_PID" 2>/dev/null || true; }
  stop_registry "$work/registry"
  # Unmount whatever buildah left mounted under its roots before deleting them.
  [ -d "$work/buildah-root" ] && { buildah --root "$work/buildah-root/storage" --runroot "$work/buildah-root/run" rm -a >/dev/null 2>&1 || true; }
  { grep -o " $work/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- registry and base images -------------------------------------------------------------------
reg=$(start_registry "$work/registry")
say "registry at $reg"

base_layouts "$CACHE" "$WORKLOADS"
push_bases "$CACHE" "$reg"

# --- contexts and tool configuration -----------------------------------------------------------
"$WORKLOAD_SRC/gen.sh" "$work/ctx" > "$work/gen.log"
chmod -R a+rX "$work/ctx"

# img: plain HTTP to the benchmark registry (otherwise it tries HTTPS first on loopback hosts).
export XDG_CONFIG_HOME=$work/config
img_http_config "$XDG_CONFIG_HOME" "$reg"
chmod -R a+rX "$XDG_CONFIG_HOME"
# buildah/skopeo: the registry is insecure (plain HTTP).
export CONTAINERS_REGISTRIES_CONF=$work/registries.conf
printf 'unqualified-search-registries = []\n\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$reg" > "$CONTAINERS_REGISTRIES_CONF"
chmod 644 "$CONTAINERS_REGISTRIES_CONF"

ruid=$(id -u "$RUSER")
img_state=$work/img-state
rl_home=$work/rootless; mkdir -p "$rl_home"; chown "$RUSER:" "$rl_home"
rl_img_state=$rl_home/img-state
# The user's own config home (buildah writes there too), holding the same img config.toml.
rl_config=$rl_home/config; mkdir -p "$rl_config"; cp -r "$XDG_CONFIG_HOME/img" "$rl_config/"; chown -R "$RUSER:" "$rl_config"
rl_run=/run/user/$ruid; mkdir -p "$rl_run"; chown "$RUSER:" "$rl_run"; chmod 700 "$rl_run"
broot=$work/buildah-root
rbroot=$rl_home/buildah
user_env=(runuser -u "$RUSER" -- env HOME="$rl_home" XDG_RUNTIME_DIR="$rl_run" XDG_CONFIG_HOME="$rl_config"
          CONTAINERS_REGISTRIES_CONF="$CONTAINERS_REGISTRIES_CONF")
as_user() { "${user_env[@]}" "$@"; }
bah=(buildah --storage-driver overlay --root "$broot/storage" --runroot "$broot/run")
# overlay, not the vfs full copies buildah picks for rootless without a storage.conf (native
# rootless overlay works on this kernel).
rbah=(buildah --storage-driver overlay --root "$rbroot/storage" --runroot "$rbroot/run")

# BuildKit: dockerd 20.10 from Debian's docker.io with its own data root and socket.
buildkit_ok=0
if [[ " $TOOLS " == *" buildkit "* ]]; then
  dk=$work/docker; mkdir -p "$dk"
  printf '{"bridge": "none", "iptables": false, "ip-masq": false, "insecure-registries": ["%s"], "features": {"buildkit": true}}\n' "$reg" > "$dk/daemon.json"
  dockerd --config-file "$dk/daemon.json" --data-root "$dk/data" --exec-root "$dk/exec" --pidfile "$dk/dockerd.pid" \
    -H "unix://$dk/docker.sock" > "$dk/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  export DOCKER_HOST=unix://$dk/docker.sock DOCKER_BUILDKIT=1
  for _ in $(seq 150); do /usr/bin/docker version >/dev/null 2>&1 && { buildkit_ok=1; break; }; kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
  if [ "$buildkit_ok" = 1 ]; then say "dockerd up ($(/usr/bin/docker version -f '{{.Server.Version}}'))"
  else say "SKIP buildkit: dockerd did not start: $(tail -3 "$dk/dockerd.log" | tr '\n' ' ')"; fi
fi

# --- phases ------------------------------------------------------------------------------------
# build_cmd TOOL WORKLOAD / push_cmd TOOL WORKLOAD RUN: set the array `cmd` (a plain command line, so
# /usr/bin/time can run it).
build_cmd() {
  local tool=$1 w=$2 ctx=$work/ctx/$2
  local args=(-t "bench/$w:latest" --build-arg "REGISTRY=$reg" "$ctx")
  case $tool in
    img)              cmd=("$IMG" -s "$img_state" build --progress plain "${args[@]}") ;;
    img-rootless)     cmd=("${user_env[@]}" "$IMG" -s "$rl_img_state" build --progress plain "${args[@]}") ;;
    buildah)          cmd=("${bah[@]}" build --layers --jobs 3 --network host --tls-verify=false "${args[@]}") ;;
    buildah-rootless) cmd=("${user_env[@]}" "${rbah[@]}" build --layers --jobs 3 --network host --tls-verify=false "${args[@]}") ;;
    buildkit)         cmd=(/usr/bin/docker build --progress plain --network host "${args[@]}") ;;
  esac
}
push_cmd() {
  local tool=$1 w=$2 dest=$reg/$1/$2-r$3:latest
  case $tool in
    img)              cmd=("$IMG" -s "$img_state" push "$dest") ;;
    img-rootless)     cmd=("${user_env[@]}" "$IMG" -s "$rl_img_state" push "$dest") ;;
    buildah)          cmd=("${bah[@]}" push --tls-verify=false "bench/$w:latest" "docker://$dest") ;;
    buildah-rootless) cmd=("${user_env[@]}" "${rbah[@]}" push --tls-verify=false "bench/$w:latest" "docker://$dest") ;;
    buildkit)         cmd=(/usr/bin/docker push "$dest") ;;
  esac
}
# Tag for the push phase (not timed).
pretag() {
  local tool=$1 w=$2 dest=$reg/$1/$2-r$3:latest
  case $tool in
    img)              "$IMG" -s "$img_state" tag "bench/$w:latest" "$dest" ;;
    img-rootless)     as_user "$IMG" -s "$rl_img_state" tag "bench/$w:latest" "$dest" ;;
    buildah|buildah-rootless) : ;;
    buildkit)         /usr/bin/docker tag "bench/$w:latest" "$dest" ;;
  esac
}
# Empty state: no cache, no pulled base image.
reset() {
  case $1 in
    img)              rm -rf "$img_state" ;;
    img-rootless)     rm -rf "$rl_img_state" ;;
    buildah)          "${bah[@]}" rm -a >/dev/null 2>&1 || true; "${bah[@]}" rmi -a -f >/dev/null 2>&1 || true ;;
    buildah-rootless) as_user "${rbah[@]}" rm -a >/dev/null 2>&1 || true; as_user "${rbah[@]}" rmi -a -f >/dev/null 2>&1 || true ;;
    buildkit)         /usr/bin/docker builder prune -af >/dev/null 2>&1 || true
                      /usr/bin/docker image ls -aq | sort -u | xargs -r /usr/bin/docker rmi -f >/dev/null 2>&1 || true ;;
  esac
}
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6:-}" >> "$results"; }

run_phase() {   # TOOL WORKLOAD PHASE RUN
  local tool=$1 w=$2 phase=$3 r=$4 log=$work/logs/$1-$2.log t m
  mkdir -p "$work/logs"
  printf '\n=== %s %s %s run %s (%s)\n' "$tool" "$w" "$phase" "$r" "$(date +%T)" >> "$log"
  case $phase in
    cold)  reset "$tool" ;;
    touch) touch "$work/ctx/$w/${EDIT_FILE[$w]}" ;;
    edit)  echo "edit $tool run $r $(date +%s%N)" >> "$work/ctx/$w/${EDIT_FILE[$w]}" ;;
    push)  pretag "$tool" "$w" "$r" >> "$log" 2>&1 || true ;;
  esac
  sync    # flush the previous phase's writes so they are not billed to this one
  settle_io "${SETTLE_MAX:-90}"   # and let the disk finish with them (and with a reset's deletes)
  if [ "$phase" = push ]; then push_cmd "$tool" "$w" "$r"; else build_cmd "$tool" "$w"; fi
  read -r t m < <(timed_rss "$log" "${cmd[@]}")
  case $tool in img*) ;; *) m= ;; esac
  record "$w" "$phase" "$tool" "$r" "$t" "$m"
  say "$w $phase $tool run $r: ${t}s${m:+ rss ${m}KiB}"
}

tools=()
for t in $TOOLS; do
  [ "$t" = buildkit ] && [ "$buildkit_ok" != 1 ] && continue
  tools+=("$t")
done
say "tools: ${tools[*]}; workloads: $WORKLOADS; runs: $RUNS (debian-apt $APT_RUNS); $(uptime | sed 's/.*load/load/')"
start=$(date +%s)
for r in $(seq "$RUNS"); do
  for w in $WORKLOADS; do
    [ "$w" = debian-apt ] && [ "$r" -gt "$APT_RUNS" ] && continue
    # Tools interleaved within a run, so machine load drifts hit them alike.
    for tool in "${tools[@]}"; do
      for phase in $PHASES; do run_phase "$tool" "$w" "$phase" "$r"; done
    done
  done
done
elapsed=$(( $(date +%s) - start ))

# --- report ------------------------------------------------------------------------------------
echo
echo "img $("$IMG" version 2>/dev/null | awk -F': ' '/git commit/ {print $2}'), $(buildah --version), $([ "$buildkit_ok" = 1 ] && echo "dockerd $(/usr/bin/docker version -f '{{.Server.Version}}') (BuildKit)"); $(nproc) cores; runs $RUNS (debian-apt $APT_RUNS); bench took ${elapsed}s; $(uptime | sed 's/.*load/load/')"
echo
python3 - "$results" "${tools[*]}" <<'PY'
import sys, statistics, collections
path, tools = sys.argv[1], sys.argv[2].split()
rows = collections.defaultdict(list); rss = collections.defaultdict(list); order = []
for line in open(path):
    w, phase, tool, run, t, m = (line.rstrip("\n").split("\t") + [""])[:6]
    if (w, phase) not in order: order.append((w, phase))
    rows[(w, phase, tool)].append(t)
    if m and m != "fail" and tool.startswith("img"): rss[(w, phase)].append(int(m))
def med(v):
    if not v: return None
    if "fail" in v: return "fail"
    return statistics.median(float(x) for x in v)
fmt = lambda x: "-" if x is None else x if isinstance(x, str) else f"{x:.2f}"
others = [t for t in tools if not t.startswith("img")]
head = ["workload", "phase"] + tools + [f"{t}/best other" for t in tools if t.startswith("img")] + ["img peak RSS"]
print("| " + " | ".join(head) + " |"); print("|" + " --- |" * 2 + " ---: |" * (len(head) - 2))
for w, phase in order:
    m = {t: med(rows[(w, phase, t)]) for t in tools}
    best = [m[t] for t in others if isinstance(m[t], float)]
    best = min(best) if best else None
    ratios = [fmt(m[t] / best) if isinstance(m[t], float) and best else "-" for t in tools if t.startswith("img")]
    peak = f"{max(rss[(w, phase)]) / 1024:.0f} MiB" if rss[(w, phase)] else "-"
    print("| " + " | ".join([w, phase] + [fmt(m[t]) for t in tools] + ratios + [peak]) + " |")
PY
if grep -q FAILED "$work"/logs/*.log 2>/dev/null; then
  echo; echo "failures (command and last lines of output):"
  for f in "$work"/logs/*.log; do
    grep -q FAILED "$f" || continue
    echo "--- $(basename "$f")"; grep -B8 FAILED "$f" | head -60
  done
fi
echo; echo "raw results and logs: $work (kept only with KEEP=1)"
