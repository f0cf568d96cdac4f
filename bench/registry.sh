#!/usr/bin/env bash
# Pull and push of a generated 5-layer, ~300 MB image against a local docker-registry, img beside
# `skopeo copy` in the same run. Prints median wall times and img's peak memory (max RSS).
# Usage: bench/registry.sh [IMG_BINARY] [RUNS]   (needs docker-registry, skopeo, python3; run as root)
set -euo pipefail
IMG=${1:-$(cd "$(dirname "$0")/.." && pwd)/.build/release/img}
RUNS=${2:-3}
work=$(mktemp -d /tmp/img-bench-registry.XXXXXX)
cleanup() { [ -n "${REG_PID:-}" ] && kill "$REG_PID" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/config.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: $work/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port, secret: bench}
YML
docker-registry serve "$work/config.yml" > "$work/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
host=127.0.0.1:$port

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

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
timeit() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
peak() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

img_pull=(); sk_pull=(); img_push=(); sk_push=(); img_repush=()
for r in $(seq "$RUNS"); do
  rm -rf "$work/state" "$work/skopeo-pull"
  img_pull+=("$(timeit "$IMG" -s "$work/state" pull "$host/bench/big:v1")")
  sk_pull+=("$(timeit skopeo copy -q --src-tls-verify=false "docker://$host/bench/big:v1" "oci:$work/skopeo-pull:v1")")
  "$IMG" -s "$work/state" tag "$host/bench/big:v1" "$host/bench/img-push-$r:v1" >/dev/null
  img_push+=("$(timeit "$IMG" -s "$work/state" push "$host/bench/img-push-$r:v1")")
  sk_push+=("$(timeit skopeo copy -q --dest-tls-verify=false "oci:$work/skopeo-pull:v1" "docker://$host/bench/skopeo-push-$r:v1")")
  img_repush+=("$(timeit "$IMG" -s "$work/state" push "$host/bench/img-push-$r:v1")")
done
rm -rf "$work/state"
pull_rss=$(peak "$IMG" -s "$work/state" pull "$host/bench/big:v1")
"$IMG" -s "$work/state" tag "$host/bench/big:v1" "$host/bench/rss:v1" >/dev/null
push_rss=$(peak "$IMG" -s "$work/state" push "$host/bench/rss:v1")

printf 'image: 5 layers, %s MB\n' "$(du -sm "$work/layout/blobs" | cut -f1)"
printf '%-22s %8s %8s %8s\n' phase img skopeo ratio
ip=$(printf '%s\n' "${img_pull[@]}" | median); sp=$(printf '%s\n' "${sk_pull[@]}" | median)
iu=$(printf '%s\n' "${img_push[@]}" | median); su=$(printf '%s\n' "${sk_push[@]}" | median)
ir=$(printf '%s\n' "${img_repush[@]}" | median)
printf '%-22s %8.2f %8.2f %8.2f\n' "pull (s)" "$ip" "$sp" "$(echo "$ip / $sp" | bc -l)"
printf '%-22s %8.2f %8.2f %8.2f\n' "push (s)" "$iu" "$su" "$(echo "$iu / $su" | bc -l)"
printf '%-22s %8.2f\n' "re-push unchanged (s)" "$ir"
printf 'peak RSS: pull %s MiB, push %s MiB\n' "$((pull_rss / 1024))" "$((push_rss / 1024))"
