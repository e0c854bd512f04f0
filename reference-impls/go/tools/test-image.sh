#!/usr/bin/env bash
# Checks the ekconform/node-go:dev image on real Docker: (1) a container answers control `ping` on
# UDP 9992, (2) two containers on a fresh internal bridge network discover each other by mDNS alone
# (no EKC_PEERS) and list each other as live members, (3) commit a proposal together, (4) SIGTERM
# stops a container within 2 s.
# Every Docker object carries io.ekconform.managed=true and is removed on exit, pass or fail.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ctl="$here/ctl.py"
image=ekconform/node-go:dev
tag="ekc-go-img-$$"
net="$tag-net"
fail() { echo "test-image-node-go: FAIL: $*" >&2; exit 1; }

command -v docker >/dev/null || fail "docker is not installed"
docker info >/dev/null 2>&1 || fail "the Docker engine is not reachable"
docker image inspect "$image" >/dev/null 2>&1 || fail "image $image is missing (run just image-node-go)"

bridge="ekcgo$(( $$ % 100000 ))"
mdns_rule=(DOCKER-USER -i "$bridge" -o "$bridge" -d 224.0.0.251 -p udp --dport 5353 -j ACCEPT)
cleanup() {
  docker rm -f "$tag-a" "$tag-b" >/dev/null 2>&1 || true
  iptables -D "${mdns_rule[@]}" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# A /24 from 10.213.0.0/16 that no existing network uses.
subnet=""
for i in $(seq 0 255); do
  cand="10.213.$(( ($$ + i) % 256 )).0/24"
  if ! docker network inspect $(docker network ls -q) --format '{{range .IPAM.Config}}{{.Subnet}} {{end}}' 2>/dev/null | grep -qw "$cand"; then
    subnet=$cand; break
  fi
done
[ -n "$subnet" ] || fail "no free subnet"
prefix="${subnet%.0/24}"
docker network create --internal --label io.ekconform.managed=true --subnet "$subnet" \
  -o com.docker.network.bridge.name="$bridge" "$net" >/dev/null
# Docker's isolation rule for internal networks drops every bridged packet whose destination is
# outside the subnet, and with br_netfilter that includes mDNS multicast to 224.0.0.251. Allow
# exactly mDNS on this network's own bridge (the rule is removed on exit).
if iptables -S DOCKER-USER >/dev/null 2>&1; then
  iptables -I "${mdns_rule[@]}" || fail "cannot add the mDNS rule for $bridge (needs root)"
fi

run_node() { # name ip node_id module
  docker run -d --name "$1" --label io.ekconform.managed=true --network "$net" --ip "$2" \
    --cap-drop ALL --security-opt no-new-privileges --read-only \
    --memory 64m --cpus 0.5 --pids-limit 64 \
    -e EKC_NODE_ID="$3" -e EKC_MODULE_ID="$4" -e EKC_CTL_PORT=9992 -e EKC_ANNOUNCE_MS=500 "$image" >/dev/null
}
run_node "$tag-a" "$prefix.11" go-a 11
run_node "$tag-b" "$prefix.12" go-b 12

# (1) control ping
ok=""
for _ in $(seq 1 25); do
  if out=$("$ctl" "$prefix.11" ping --timeout 0.5 2>/dev/null); then ok=1; break; fi
  sleep 0.2
done
[ -n "$ok" ] || { docker logs "$tag-a" | tail -20 >&2; fail "no answer to ping on $prefix.11:9992"; }
echo "$out" | grep -q '"node_id": "go-a"' || fail "ping result names the wrong node: $out"
echo "ok: ping on UDP 9992 answered: $out"

# (2) mDNS discovery both ways (ROJ-DISC-1..3): peers must list the other as live.
found=""
for _ in $(seq 1 50); do
  pa=$("$ctl" "$prefix.11" peers) && pb=$("$ctl" "$prefix.12" peers) || true
  if echo "$pa" | grep -q '"live": \[[^]]*"go-b"' && echo "$pb" | grep -q '"live": \[[^]]*"go-a"'; then found=1; break; fi
  sleep 0.2
done
if [ -z "$found" ]; then
  docker logs "$tag-a" 2>&1 | grep -i 'mdns\|member' | tail -10 >&2
  fail "containers did not discover each other by mDNS (a: $pa, b: $pb)"
fi
grep -q 'member discovered by mDNS' <(docker logs "$tag-a" 2>&1; docker logs "$tag-b" 2>&1) \
  || fail "peers became live but not through mDNS"
echo "ok: mDNS discovery both ways: a=$pa b=$pb"

# (3) a commit across the two containers (t(2) = 2).
"$ctl" "$prefix.11" propose '{"key":"img","value":"v1"}' >/dev/null || fail "propose refused"
committed=""
for _ in $(seq 1 25); do
  kv=$("$ctl" "$prefix.12" kv '{}') || true
  if echo "$kv" | grep -q '"value": "v1"'; then committed=1; break; fi
  sleep 0.2
done
[ -n "$committed" ] || fail "commit did not reach go-b: $kv"
echo "ok: commit reached the other container: $kv"

# (4) CTL-IMG-3: SIGTERM stops the node within 2 s, with a clean exit (not Docker's SIGKILL).
t0=$(date +%s%N)
docker stop -t 5 "$tag-a" >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
code=$(docker inspect -f '{{.State.ExitCode}}' "$tag-a")
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
[ "$ms" -lt 2000 ] || fail "stopping took $ms ms (CTL-IMG-3 allows 2 s)"
echo "ok: SIGTERM stop in $ms ms, exit code 0"
