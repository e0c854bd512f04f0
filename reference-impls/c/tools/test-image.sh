#!/usr/bin/env bash
# Checks the ekconform/node-c:dev image on real Docker: (1) a container answers control `ping` on
# UDP 9992; (2) two containers on a fresh internal bridge network discover each other by mDNS alone
# (EKC_MDNS=1, no EKC_PEERS), list each other as live, and commit a proposal together.
# Every Docker object is labelled io.ekconform.managed=true and removed on exit, pass or fail.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ctl="$here/ctl.py"
image=ekconform/node-c:dev
tag="ekc-c-img-$$"
net="$tag-net"
fail() { echo "test-image-node-c: FAIL: $*" >&2; exit 1; }

command -v docker >/dev/null || fail "docker is not installed"
docker info >/dev/null 2>&1 || fail "the Docker engine is not reachable"
docker image inspect "$image" >/dev/null 2>&1 || fail "image $image is missing (run just image-node-c)"

bridge="ekcc$(( $$ % 100000 ))"
mdns_rule=(DOCKER-USER -i "$bridge" -o "$bridge" -d 224.0.0.251 -p udp --dport 5353 -j ACCEPT)
cleanup() {
  docker rm -f "$tag-a" "$tag-b" >/dev/null 2>&1 || true
  iptables -D "${mdns_rule[@]}" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT

subnet=""
used="$(docker network inspect $(docker network ls -q) --format '{{range .IPAM.Config}}{{.Subnet}} {{end}}' 2>/dev/null || true)"
for i in $(seq 0 255); do
  cand="10.214.$(( ($$ + i) % 256 )).0/24"
  if ! grep -qw "$cand" <<<"$used"; then subnet=$cand; break; fi
done
[ -n "$subnet" ] || fail "no free subnet in 10.214.0.0/16"
prefix="${subnet%.0/24}"
docker network create --internal --label io.ekconform.managed=true --subnet "$subnet" \
  -o com.docker.network.bridge.name="$bridge" "$net" >/dev/null
# With br_netfilter, Docker's isolation of internal networks also drops bridged multicast to
# 224.0.0.251; allow exactly mDNS on this network's own bridge (removed on exit).
if iptables -S DOCKER-USER >/dev/null 2>&1; then
  iptables -I "${mdns_rule[@]}" || fail "cannot add the mDNS rule for $bridge (needs root)"
fi

run_node() { # name ip node_id module
  docker run -d --name "$1" --label io.ekconform.managed=true --network "$net" --ip "$2" \
    --cap-drop ALL --security-opt no-new-privileges --read-only \
    --memory 32m --cpus 0.5 --pids-limit 16 \
    -e EKC_NODE_ID="$3" -e EKC_MODULE_ID="$4" -e EKC_CTL_PORT=9992 -e EKC_ANNOUNCE_MS=500 \
    -e EKC_ANTI_ENTROPY_MS=1000 "$image" >/dev/null
}
run_node "$tag-a" "$prefix.11" c-a 11
run_node "$tag-b" "$prefix.12" c-b 12

ok=""
for _ in $(seq 1 25); do
  if out=$("$ctl" "$prefix.11" ping 2>/dev/null); then ok=1; break; fi
  sleep 0.2
done
[ -n "$ok" ] || { docker logs "$tag-a" 2>&1 | tail -20 >&2; fail "no answer to ping on $prefix.11:9992"; }
grep -q '"node_id":"c-a"' <<<"$out" || fail "ping result names the wrong node: $out"
echo "ok: ping on UDP 9992 answered: $out"

found=""
for _ in $(seq 1 60); do
  pa=$("$ctl" "$prefix.11" peers || true); pb=$("$ctl" "$prefix.12" peers || true)
  if grep -q '"live":\[[^]]*"c-b"' <<<"$pa" && grep -q '"live":\[[^]]*"c-a"' <<<"$pb"; then found=1; break; fi
  sleep 0.25
done
if [ -z "$found" ]; then
  docker logs "$tag-a" 2>&1 | tail -15 >&2
  fail "containers did not discover each other by mDNS (a: $pa, b: $pb)"
fi
grep -q 'mDNS instance resolved' <(docker logs "$tag-a" 2>&1) || fail "c-a learned c-b, but not through mDNS"
grep -q 'mDNS instance resolved' <(docker logs "$tag-b" 2>&1) || fail "c-b learned c-a, but not through mDNS"
echo "ok: mDNS discovery both ways: a=$pa b=$pb"

committed=""
for _ in $(seq 1 40); do
  if "$ctl" "$prefix.11" propose '{"key":"bay1","value":"7400"}' >/dev/null 2>&1; then committed=1; break; fi
  sleep 0.25
done
[ -n "$committed" ] || fail "propose was never accepted on c-a"
agree=""
for _ in $(seq 1 40); do
  ka=$("$ctl" "$prefix.11" kv) ; kb=$("$ctl" "$prefix.12" kv)
  if grep -q '"bay1","value":"7400"' <<<"$kb" && [ "$ka" = "$kb" ]; then agree=1; break; fi
  sleep 0.25
done
[ -n "$agree" ] || fail "the commit did not reach c-b (a: $ka, b: $kb)"
echo "ok: commit across the two containers: $kb"
echo "test-image-node-c: 3 checks passed"
