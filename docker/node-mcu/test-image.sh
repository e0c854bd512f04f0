#!/usr/bin/env bash
# Image test of ekconform/node-mcu:dev on a private internal Docker network, next to the Go node
# image when it exists: the container gets only NET_ADMIN and /dev/net/tun (all other capabilities
# dropped, read-only root, CPU/memory/pids limits), the MCU takes the container's IP, answers the
# control `ping` there (CTL-READY-1), and both nodes list each other as live (mDNS discovery);
# after `docker kill` + `docker start` it continues after its persisted origin_seq (CTL-PERSIST-1);
# `docker stop` ends it within 2 s (CTL-IMG-3); a malformed EKC_* value exits non-zero with one line
# (CTL-IMG-1). Prints boot-to-ping and discovered-by-all times. Fails loudly without Docker.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
fail() { echo "test-image-node-mcu: FAIL: $*" >&2; exit 1; }
command -v docker >/dev/null && docker info >/dev/null 2>&1 || fail "Docker is not available"
[ -c /dev/net/tun ] || fail "/dev/net/tun is missing"
"$root/docker/node-mcu/build.sh" >/dev/null

tag="ekc-mcu-img-$$"
net="$tag-net"
bridge="ekcmcu$$"
# Docker's isolation rule for internal networks (`-i br ! -d <subnet> -j DROP`) also drops bridged
# multicast when br_netfilter is loaded, which silences mDNS between containers. Accept mDNS on this
# test's own bridge only (DOCKER-USER is evaluated first), and remove the rule afterwards.
mdns_rule=(DOCKER-USER -i "$bridge" -o "$bridge" -d 224.0.0.251/32 -j ACCEPT)
cleanup() {
  docker rm -f "$tag-mcu" "$tag-go" >/dev/null 2>&1 || true
  docker volume rm "$tag-state" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  iptables -w -D "${mdns_rule[@]}" 2>/dev/null || true
}
trap cleanup EXIT
limits=(--label io.ekconform.managed=true --cpus 1 --memory 256m --pids-limit 64 --read-only --cap-drop ALL)

# CTL-IMG-1: a malformed value is one clear line and a non-zero exit.
set +e
out=$(docker run --rm "${limits[@]}" --cap-add NET_ADMIN --device /dev/net/tun \
  -e EKC_NODE_ID=Bad_Id -e EKC_MODULE_ID=1 ekconform/node-mcu:dev 2>&1); rc=$?
set -e
[ $rc != 0 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q EKC_NODE_ID \
  || fail "bad EKC_NODE_ID: want one line and a non-zero exit, got rc=$rc: $out"

docker network create --internal --label io.ekconform.managed=true \
  -o com.docker.network.bridge.name="$bridge" "$net" >/dev/null
if [ "$(sysctl -n net.bridge.bridge-nf-call-iptables 2>/dev/null || echo 0)" = 1 ]; then
  iptables -w -I "${mdns_rule[@]}" || fail "cannot add the mDNS accept rule for $bridge"
fi
t0=$(date +%s.%N)
docker volume create --label io.ekconform.managed=true "$tag-state" >/dev/null
docker run -d --name "$tag-mcu" "${limits[@]}" --cap-add NET_ADMIN --device /dev/net/tun \
  --network "$net" -e EKC_NODE_ID=mcu-1 -e EKC_MODULE_ID=42 -e EKC_CTL_PORT=9992 \
  -e EKC_STATE_DIR=/state --mount type=volume,src="$tag-state",dst=/state \
  ekconform/node-mcu:dev >/dev/null
mcu_ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$tag-mcu")
ids=(mcu-1); ips=("$mcu_ip")
if docker image inspect ekconform/node-go:dev >/dev/null 2>&1; then
  docker run -d --name "$tag-go" "${limits[@]}" --network "$net" \
    -e EKC_NODE_ID=go-1 -e EKC_MODULE_ID=1 -e EKC_CTL_PORT=9992 ekconform/node-go:dev >/dev/null
  ids+=(go-1); ips+=("$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$tag-go")")
else
  echo "test-image-node-mcu: ekconform/node-go:dev not built; checking the MCU alone" >&2
fi
probe="$root/reference-impls/c/port/mcu/tools/probe.py"
t_ping=$(python3 "$probe" wait-ctl "$mcu_ip" 9992 15) || { docker logs "$tag-mcu" >&2; fail "MCU container never answered control ping at $mcu_ip"; }
el() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$t0" "$(date +%s.%N)"; }
echo "test-image-node-mcu: MCU answers control ping at $mcu_ip $(el) s after docker run"
resp=$(python3 "$probe" ctl "$mcu_ip" 9992 ping)
echo "$resp" | grep -q '"node_id": "mcu-1"' || fail "ping result: $resp"

if [ ${#ids[@]} -gt 1 ]; then
  # One poller process: each node's `peers` every 50 ms until both list both as live.
  python3 - "$(dirname "$probe")" "${ips[*]}" "${ids[*]}" ${KEEP_LOGS:+debug} <<'PY' || { docker logs "$tag-mcu" 2>&1 | tail -5 >&2; fail "MCU and Go containers did not discover each other"; }
import sys, time
sys.path.insert(0, sys.argv[1])
import probe
ips, ids = sys.argv[2].split(), set(sys.argv[3].split())
deadline = time.time() + 30
while time.time() < deadline:
    rs = [probe.ctl(ip, 9992, "peers", timeout=0.3) for ip in ips]
    if all(r and r.get("ok") and ids <= set(r["result"]["live"]) for r in rs):
        sys.exit(0)
    if len(sys.argv) > 4:
        print(time.time(), rs, file=sys.stderr)
    time.sleep(0.05)
sys.exit(1)
PY
  echo "test-image-node-mcu: discovered-by-all (mcu + go containers) $(el) s after the first docker run"
  [ -n "${KEEP_LOGS:-}" ] && { docker logs -t "$tag-go" > "$KEEP_LOGS.go" 2>&1; docker logs -t "$tag-mcu" > "$KEEP_LOGS.mcu" 2>&1; }
  # From the containers' own clocks: the Go node's start to the MCU learning it.
  go_start=$(docker logs -t "$tag-go" 2>&1 | awk '/"node started"/ { print $1; exit }')
  mcu_learn=$(docker logs -t "$tag-mcu" 2>&1 | awk '/"member":"go-1"/ { print $1; exit }')
  if [ -n "$go_start" ] && [ -n "$mcu_learn" ]; then
    echo "test-image-node-mcu: the MCU learned go-1 $(python3 -c 'import sys; from datetime import datetime as D; f=lambda s: D.fromisoformat(s.rstrip("Z")[:26]); print(f"{(f(sys.argv[2]) - f(sys.argv[1])).total_seconds() * 1000:.0f}")' "$go_start" "$mcu_learn") ms after the Go node started"
  fi
fi

# The UART log is the container's stdout, one CTL-LOG-1 JSON object per line.
mcu_log=$(docker logs "$tag-mcu" 2>/dev/null)
[ -n "$mcu_log" ] && printf '%s\n' "$mcu_log" | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' \
  || fail "container stdout is not JSON lines"
# Restart scenario (CTL-PERSIST-1): emit, kill the container hard, start it again; the MCU must
# continue after its persisted origin_seq (state written through semihosting into the volume).
emit() { python3 -c '
import json, sys
sys.path.insert(0, sys.argv[1])
import probe
r = probe.ctl(sys.argv[2], 9992, "emit", {"event_type": 128, "payload_hex": "00" * 20}, timeout=5)
print(json.dumps(r)); sys.exit(0 if r and r.get("ok") else 1)' "$(dirname "$probe")" "$mcu_ip"; }
seq_of() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["result"]["origin_seq"])' "$1"; }
r1=$(emit) || fail "emit: $r1"
r2=$(emit) || fail "emit: $r2"
docker kill "$tag-mcu" >/dev/null
docker start "$tag-mcu" >/dev/null
mcu_ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$tag-mcu")
python3 "$probe" wait-ctl "$mcu_ip" 9992 20 >/dev/null || { docker logs "$tag-mcu" 2>&1 | tail -5 >&2; fail "no control ping after docker kill + start"; }
r3=$(emit) || fail "emit after restart: $r3"
[ "$(seq_of "$r3")" -gt "$(seq_of "$r2")" ] || fail "origin_seq reused after restart: $(seq_of "$r2") then $(seq_of "$r3")"
echo "test-image-node-mcu: origin_seq $(seq_of "$r2") before docker kill, $(seq_of "$r3") after docker start (state in the volume)"

s0=$(date +%s.%N)
docker stop -t 5 "$tag-mcu" >/dev/null
stop_s=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$s0" "$(date +%s.%N)")
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 2.0 else 1)" "$stop_s" || fail "docker stop took $stop_s s (CTL-IMG-3: 2 s)"
echo "test-image-node-mcu: stopped by SIGTERM in $stop_s s, exit code $(docker inspect -f '{{.State.ExitCode}}' "$tag-mcu")"
echo "test-image-node-mcu: PASS"
