#!/usr/bin/env bash
# Pull and push of a generated 5-layer, ~300 MB image against local docker-registry instances, img beside
# `skopeo copy` in the same run. Prints median wall times and img's peak memory (max RSS).
# Usage: bench/registry.sh [IMG_BINARY] [RUNS]   (needs docker-registry, skopeo, python3, bc; run as root)
#
# Pushes go to a registry started empty for each run: against the source registry both tools would
# mount the blobs from bench/big (skopeo remembers where it saw them) and no bytes would move.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
IMG=${1:-$here/../.build/release/img}
RUNS=${2:-3}
work=$(mktemp -d /tmp/img-bench-registry.XXXXXX)
cleanup() { stop_registry "$work/src"; stop_registry "$work/dst"; rm -rf "$work"; }
trap cleanup EXIT
log=$work/commands.log

host=$(start_registry "$work/src")
# Plain HTTP for img, as --tls-verify=false gives skopeo; the default path is measured once below.
export XDG_CONFIG_HOME=$work/config
img_http_config "$XDG_CONFIG_HOME" "$host"

# An OCI layout with 5 gzip layers of ~60 MB incompressible data each.
python3 - "$work/layout" <<'PY'
import gzip, hashlib, json, os, sys, tarfile, io
out = sys.argv[1]; blobs = os.path.join(out, "blobs", "sha256"); os.makedirs(blobs)
def put(data):
    d = hashlib.sha256(data).hexdigest(); open(os.path.join(blobs, d), "wb").write(data); return d
layers, diffs = [], []
for i in range(5):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        payload = os.urandom(60 << 20); info = tarfile.TarInfo(f"data/layer{i}.bin"); info.size = len(payload)
        t.addfile(info, io.BytesIO(payload))
    raw = buf.getvalue(); diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
    gz = gzip.compress(raw, compresslevel=1, mtime=0)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + put(gz), "size": len(gz)})
config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + put(config), "size": len(config)},
    "layers": layers}).encode()
md = put(manifest)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "sha256:" + md, "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]},
    open(os.path.join(out, "index.json"), "w"))
open(os.path.join(out, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
skopeo copy -q --dest-tls-verify=false "oci:$work/layout:v1" "docker://$host/bench/big:v1"

img_pull=(); sk_pull=(); img_push=(); sk_push=(); img_repush=(); pull_rss=(); push_rss=()
for r in $(seq "$RUNS"); do
  rm -rf "$work/state" "$work/skopeo-pull"
  read -r t m < <(timed_rss "$log" "$IMG" -s "$work/state" pull "$host/bench/big:v1"); img_pull+=("$t"); pull_rss+=("$m")
  sk_pull+=("$(timed "$log" skopeo copy -q --src-tls-verify=false "docker://$host/bench/big:v1" "oci:$work/skopeo-pull:v1")")
  # A fresh, empty registry to push to (new port, so skopeo's blob cache knows nothing about it either).
  stop_registry "$work/dst"; rm -rf "$work/dst"
  dst=$(start_registry "$work/dst")
  img_http_config "$XDG_CONFIG_HOME" "$host" "$dst"
  "$IMG" -s "$work/state" tag "$host/bench/big:v1" "$dst/bench/img:v1" >>"$log" 2>&1
  read -r t m < <(timed_rss "$log" "$IMG" -s "$work/state" push "$dst/bench/img:v1"); img_push+=("$t"); push_rss+=("$m")
  sk_push+=("$(timed "$log" skopeo copy -q --dest-tls-verify=false "oci:$work/skopeo-pull:v1" "docker://$dst/bench/skopeo:v1")")
  img_repush+=("$(timed "$log" "$IMG" -s "$work/state" push "$dst/bench/img:v1")")
done
# Once, without config.toml: what a user gets by default against a plain-HTTP loopback registry.
rm -rf "$work/state"
default_pull=$(XDG_CONFIG_HOME=$work/noconfig timed "$log" "$IMG" -s "$work/state" pull "$host/bench/big:v1")

if grep -q FAILED "$log"; then echo "some commands failed (see below)"; grep -B5 FAILED "$log"; fi
ip=$(med "${img_pull[@]}"); sp=$(med "${sk_pull[@]}"); iu=$(med "${img_push[@]}"); su=$(med "${sk_push[@]}")
ir=$(med "${img_repush[@]}")
ratio() { if [ "$1" = fail ] || [ "$2" = fail ]; then echo "-"; else printf '%.2f' "$(echo "$1 / $2" | bc -l)"; fi; }
mib() { local v; v=$(printf '%s\n' "$@" | grep -v fail | sort -n | tail -1); echo $(( ${v:-0} / 1024 )); }
echo "image: 5 layers, $(du -sm "$work/layout/blobs" | cut -f1) MB; $RUNS runs; $(uptime | sed 's/.*load/load/')"
echo
echo "| phase | img (s) | skopeo (s) | img/skopeo | img peak RSS |"
echo "| --- | ---: | ---: | ---: | ---: |"
echo "| pull | $ip | $sp | $(ratio "$ip" "$sp") | $(mib "${pull_rss[@]}") MiB |"
echo "| push (empty registry) | $iu | $su | $(ratio "$iu" "$su") | $(mib "${push_rss[@]}") MiB |"
echo "| re-push unchanged | $ir | | | |"
echo "| pull, no config.toml (HTTPS tried first) | $default_pull | | | |"
echo
echo "runs: img pull ${img_pull[*]}; skopeo pull ${sk_pull[*]}; img push ${img_push[*]}; skopeo push ${sk_push[*]}; re-push ${img_repush[*]}"
