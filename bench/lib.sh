# Helpers shared by the shell benchmarks (sourced, not run).

# A free TCP port on 127.0.0.1 (the kernel picks it; racy only against other benchmarks).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_registry DIR: a plain-HTTP docker-registry storing in DIR/storage; prints host:port.
# The pid goes to DIR/pid so the caller can stop exactly this process.
start_registry() {
  local dir=$1 port
  mkdir -p "$dir"
  port=$(free_port)
  cat > "$dir/config.yml" <<YML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/storage}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port, secret: bench}
YML
  docker-registry serve "$dir/config.yml" > "$dir/registry.log" 2>&1 &
  echo $! > "$dir/pid"
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && { echo "127.0.0.1:$port"; return 0; }
    sleep 0.1
  done
  echo "registry in $dir did not start: $(cat "$dir/registry.log")" >&2
  return 1
}

stop_registry() {
  local dir=$1
  [ -f "$dir/pid" ] || return 0
  kill "$(cat "$dir/pid")" 2>/dev/null || true
  wait "$(cat "$dir/pid")" 2>/dev/null || true
  rm -f "$dir/pid"
}

# img reads $XDG_CONFIG_HOME/img/config.toml; `http = true` makes it speak plain HTTP to HOST at once
# (without it img tries HTTPS first on loopback registries and only falls back after its connect timeout).
img_http_config() {
  local confdir=$1; shift
  mkdir -p "$confdir/img"
  : > "$confdir/img/config.toml"
  for h in "$@"; do printf '[registry."%s"]\nhttp = true\n\n' "$h" >> "$confdir/img/config.toml"; done
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# timed LOG CMD...: runs CMD with output appended to LOG, prints elapsed seconds. A failing command
# prints "fail" and leaves its tail in LOG, so a broken run never passes for a fast one.
timed() {
  local log=$1 s e rc; shift
  s=$(date +%s.%N)
  "$@" >>"$log" 2>&1 && rc=0 || rc=$?
  e=$(date +%s.%N)
  if [ "$rc" -ne 0 ]; then
    printf 'FAILED (exit %s): %s\n' "$rc" "$*" >>"$log"
    echo fail; return 0
  fi
  printf '%.3f\n' "$(echo "$e - $s" | bc -l)"
}

# timed_rss LOG CMD...: like timed, but prints "SECONDS KIB" with the command's peak RSS from GNU time.
timed_rss() {
  local log=$1 s e rc rss; shift
  local tf; tf=$(mktemp)
  s=$(date +%s.%N)
  /usr/bin/time -o "$tf" -f %M "$@" >>"$log" 2>&1 && rc=0 || rc=$?
  e=$(date +%s.%N)
  rss=$(tail -1 "$tf"); rm -f "$tf"
  if [ "$rc" -ne 0 ]; then
    printf 'FAILED (exit %s): %s\n' "$rc" "$*" >>"$log"
    echo "fail $rss"; return 0
  fi
  printf '%.3f %s\n' "$(echo "$e - $s" | bc -l)" "$rss"
}

# settle_io MAX_SECONDS: waits (at most MAX_SECONDS) until the last 10 s saw tasks stalled on I/O less
# than SETTLE_IO percent of the time (/proc/pressure/io, "some avg10"; default 2), so a phase does not
# start in the tail of the previous phase's I/O. It cannot see everything: after a large delete (a tool's
# reset before its cold phase) this virtual disk stays slow for a minute or more with no pressure shown
# here (buildah built debian-apt cold in 21.6 s right after one, 9.7 s on a settled disk).
settle_io() {
  local max=$1 waited=0 avg
  [ -r /proc/pressure/io ] || return 0
  while :; do
    avg=$(awk '/^some/ { sub("avg10=", "", $2); print $2 }' /proc/pressure/io)
    awk -v a="$avg" -v t="${SETTLE_IO:-2}" 'BEGIN { exit !(a < t) }' && return 0
    [ "$waited" -ge $((max * 2)) ] && { echo "settle_io: I/O pressure still ${avg}% after ${max}s" >&2; return 0; }
    sleep 0.5; waited=$((waited + 1))
  done
}

# Median of a list of numbers, "fail" if any run failed.
med() { local v; for v in "$@"; do [ "$v" = fail ] && { echo fail; return; }; done; printf '%s\n' "$@" | median; }
