#!/usr/bin/env bash
# Checks the ekconform/node-rust:dev image on real Docker:
#  (1) the binary in the image is statically linked and the container answers control `ping` on UDP 9992;
#  (2) two containers on a fresh internal bridge network discover each other by mDNS alone (no
#      EKC_PEERS) and list each other as live members; (3) they commit a proposal together.
# Containers run as in the lab: no capabilities, read-only root, CPU/memory/pids limits.
# Every Docker object carries io.ekconform.managed=true and is removed on exit, pass or fail.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ctl="$here/ctl.py"
image=ekconform/node-rust:dev
tag="ekc-rust-img-$$"
net="$tag-net"
fail() { echo "test-image-node-rust: FAIL: $*" >&2; exit 1; }

command -v docker >/dev/null || fail "docker is not installed"
docker info >/dev/null 2>&1 || fail "the Docker engine is not reachable"
docker image inspect "$image" >/dev/null 2>&1 || fail "image $image is missing (run just image-node-rust)"
[ "$(docker image inspect -f '{{index .Config.Labels "io.ekconform.managed"}}' "$image")" = "true" ] \
  || fail "image lacks the label io.ekconform.managed=true"

bridge="ekcrs$(( $$ % 100000 ))"
mdns_rule=(DOCKER-USER -i "$bridge" -o "$bridge" -d 224.0.0.251 -p udp --dport 5353 -j ACCEPT)
cleanup() {
  docker rm -f "$tag-a" "$tag-b" >/dev/null 2>&1 || true
  iptables -D "${mdns_rule[@]}" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# A /24 in 10.214.0.0/16 that no existing network uses.
used="$(docker network inspect $(docker network ls -q) --format '{{range .IPAM.Config}}{{.Subnet}} {{end}}' 2>/dev/null || true)"
subnet=""
for i in $(seq 0 255); do
  cand="10.214.$(( ($$ + i) % 256 )).0/24"
  if ! grep -qw "$cand" <<<"$used"; then subnet=$cand; break; fi
done
[ -n "$subnet" ] || fail "no free subnet"
prefix="${subnet%.0/24}"
docker network create --internal --label io.ekconform.managed=true --subnet "$subnet" \
  -o com.docker.network.bridge.name="$bridge" "$net" >/dev/null
# With br_netfilter, Docker's isolation of internal networks also drops mDNS multicast to
# 224.0.0.251 on the bridge; allow exactly mDNS on this network's own bridge (removed on exit).
if iptables -S DOCKER-USER >/dev/null 2>&1; then
  iptables -I "${mdns_rule[@]}" || fail "cannot add the mDNS rule for $bridge (needs root)"
fi

run_node() { # name ip node_id module
  docker run -d --name "$1" --label io.ekconform.managed=true --network "$net" --ip "$2" \
    --cap-drop ALL --security-opt no-new-privileges --read-only \
    --memory 64m --cpus 0.5 --pids-limit 64 \
    -e EKC_NODE_ID="$3" -e EKC_MODULE_ID="$4" -e EKC_CTL_PORT=9992 -e EKC_ANNOUNCE_MS=500 "$image" >/dev/null
}
run_node "$tag-a" "$prefix.11" rust-a 11
run_node "$tag-b" "$prefix.12" rust-b 12

# (1) static binary, control ping
docker cp "$tag-a:/ekc-node-rust" "/tmp/$tag-bin" >/dev/null
file "/tmp/$tag-bin" | grep -q 'static' || { file "/tmp/$tag-bin" >&2; rm -f "/tmp/$tag-bin"; fail "binary is not statically linked"; }
rm -f "/tmp/$tag-bin"
out=""
out=$("$ctl" "$prefix.11" ping --timeout 5) || { docker logs "$tag-a" 2>&1 | tail -20 >&2; fail "no answer to ping on $prefix.11:9992"; }
grep -q '"node_id": "rust-a"' <<<"$out" || fail "ping names the wrong node: $out"
echo "ok: static binary; ping on UDP 9992 answered: $out"

# (2) mDNS discovery both ways (ROJ-DISC-1..3): each lists the other as live.
found="" pa="" pb=""
for _ in $(seq 1 60); do
  pa=$("$ctl" "$prefix.11" peers) && pb=$("$ctl" "$prefix.12" peers) || true
  if grep -q '"live": \[[^]]*"rust-b"' <<<"$pa" && grep -q '"live": \[[^]]*"rust-a"' <<<"$pb"; then found=1; break; fi
  sleep 0.25
done
if [ -z "$found" ]; then
  docker logs "$tag-a" 2>&1 | tail -20 >&2
  fail "containers did not discover each other by mDNS (a: $pa, b: $pb)"
fi
grep -q 'member discovered by mDNS' <(docker logs "$tag-a" 2>&1; docker logs "$tag-b" 2>&1) \
  || fail "peers became live, but not through mDNS"
echo "ok: mDNS discovery both ways: a=$pa b=$pb"

# (3) a commit across the two containers (t(2) = 2); `busy` while catching up is retried.
for _ in $(seq 1 25); do
  if "$ctl" "$prefix.11" propose '{"key":"img","value":"v1"}' >/dev/null 2>&1; then break; fi
  sleep 0.2
done
for _ in $(seq 1 25); do
  kv=$("$ctl" "$prefix.12" kv '{}') || true
  if grep -q '"value": "v1"' <<<"$kv"; then echo "ok: commit reached the other container: $kv"; break; fi
  sleep 0.2
done
grep -q '"value": "v1"' <<<"$kv" || fail "commit did not reach rust-b: $kv"

# (4) SIGTERM stops the node within 2 s (CTL-IMG-3).
start=$(date +%s%N)
docker stop -t 2 "$tag-b" >/dev/null
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
code=$(docker inspect -f '{{.State.ExitCode}}' "$tag-b")
[ "$code" = "0" ] && [ "$elapsed_ms" -lt 2000 ] || fail "SIGTERM: exit code $code after ${elapsed_ms} ms"
echo "ok: SIGTERM stopped the node in ${elapsed_ms} ms with exit code 0"
echo "test-image-node-rust: PASS"
