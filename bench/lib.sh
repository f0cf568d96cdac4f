# Helpers shared by the shell benchmarks (sourced, not run).

say() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

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

# --- base images (no internet: assembled on the host, cached) -----------------------------------
# oci_layout LAYER_TAR CONFIG_JSON_FRAGMENT DEST: a one-layer OCI layout (tag latest) around LAYER_TAR.
oci_layout() {
  local tarball=$1 conf=$2 dest=$3
  rm -rf "$dest"; mkdir -p "$dest/blobs/sha256"
  gzip -n -6 -c "$tarball" > "$dest/layer.gz"
  python3 - "$tarball" "$dest" "$conf" <<'PY'
import hashlib, json, os, sys
tarball, dest, conf = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
blobs = os.path.join(dest, "blobs", "sha256")
def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""): h.update(chunk)
    return h.hexdigest()
def put(data):
    d = hashlib.sha256(data).hexdigest(); open(os.path.join(blobs, d), "wb").write(data); return d, len(data)
diff = digest(tarball)
gz = os.path.join(dest, "layer.gz"); gzd = digest(gz); gzsize = os.path.getsize(gz)
os.rename(gz, os.path.join(blobs, gzd))
config = {"architecture": "amd64", "os": "linux", "created": "2024-06-01T00:00:00Z", "config": conf,
          "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff]},
          "history": [{"created": "2024-06-01T00:00:00Z", "created_by": "img bench base image"}]}
cd, cs = put(json.dumps(config).encode())
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cd, "size": cs},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + gzd, "size": gzsize}]}
md, ms = put(json.dumps(manifest).encode())
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": manifest["mediaType"], "digest": "sha256:" + md, "size": ms,
           "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}, open(os.path.join(dest, "index.json"), "w"))
open(os.path.join(dest, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
}

# Layer tar of a staged root: sorted, numeric owners, no "./" prefix, fixed mtime-independent order.
stage_tar() { (cd "$1" && tar --sort=name --numeric-owner -cf "$2" $(ls -A)); }

# base_layouts CACHE_DIR WORKLOADS: makes (once; cached in CACHE_DIR) the OCI layouts of the base images the
# workloads need: CACHE_DIR/base-busybox always, CACHE_DIR/base-debian when WORKLOADS has debian-apt.
#   busybox:latest   Debian's busybox-static, applet links to /bin/busybox, passwd/group, /tmp 1777
#   debian:bookworm  debootstrap --variant=minbase from the host's apt mirror, slimmed, one layer
base_layouts() {
  local cache=$1 workloads=$2
  local busybox_layout debian_layout tree st mirror
  busybox_layout=$cache/base-busybox
  if [ ! -f "$busybox_layout/index.json" ]; then
    say "assembling busybox:latest"
    st=$cache/stage-busybox; rm -rf "$st"; mkdir -p "$st/bin" "$st/etc" "$st/tmp" "$st/root"
    cp /bin/busybox "$st/bin/busybox"         # Debian's busybox-static
    # What `busybox --install -s /bin` does inside the image; run on the host it would link to the host's
    # resolved path (/usr/bin/busybox on merged-/usr), which the image lacks.
    for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s /bin/busybox "$st/bin/$a"; done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$st/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$st/etc/group"
    chmod 1777 "$st/tmp"; chmod 700 "$st/root"
    stage_tar "$st" "$cache/busybox.tar"
    oci_layout "$cache/busybox.tar" '{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]}' "$busybox_layout"
    rm -rf "$st" "$cache/busybox.tar"
  fi

  debian_layout=$cache/base-debian
  if [[ " $workloads " == *" debian-apt "* ]] && [ ! -f "$debian_layout/index.json" ]; then
    tree=$cache/bookworm-minbase
    if [ ! -d "$tree" ]; then
      mirror=$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -1)
      say "debootstrap --variant=minbase bookworm from ${mirror:-http://deb.debian.org/debian} (cached in $tree)"
      rm -rf "$tree.tmp"
      debootstrap --variant=minbase bookworm "$tree.tmp" "${mirror:-http://deb.debian.org/debian}" > "$cache/debootstrap.log" 2>&1
      mv "$tree.tmp" "$tree"
    fi
    say "assembling debian:bookworm (slim)"
    st=$cache/stage-debian; rm -rf "$st"; cp -a "$tree" "$st"
    # Like the -slim images: no docs, man pages, locales, apt lists/caches or logs; empty /dev
    # (device nodes cannot be created by rootless unpackers).
    rm -rf "$st"/usr/share/doc/* "$st"/usr/share/man/* "$st"/usr/share/info/* "$st"/usr/share/locale/* \
           "$st"/usr/share/lintian "$st"/var/cache/apt/* "$st"/var/lib/apt/lists/* "$st"/var/log/* \
           "$st"/var/cache/debconf/*-old "$st"/dev/* "$st"/proc/* "$st"/sys/* "$st"/run/* "$st"/tmp/*
    stage_tar "$st" "$cache/debian.tar"
    oci_layout "$cache/debian.tar" '{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["bash"]}' "$debian_layout"
    rm -rf "$st" "$cache/debian.tar"
  fi
}

# push_bases CACHE_DIR REGISTRY: copies the layouts base_layouts made to REGISTRY/busybox:latest and
# REGISTRY/debian:bookworm (plain HTTP).
push_bases() {
  skopeo copy -q --dest-tls-verify=false "oci:$1/base-busybox:latest" "docker://$2/busybox:latest"
  if [ -f "$1/base-debian/index.json" ]; then
    skopeo copy -q --dest-tls-verify=false "oci:$1/base-debian:latest" "docker://$2/debian:bookworm"
  fi
}
