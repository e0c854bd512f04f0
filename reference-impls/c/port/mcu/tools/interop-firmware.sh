#!/usr/bin/env bash
# Mixed cluster on one link: the emulated MCU (QEMU, its own IPv4 stack), the Go node and the POSIX
# C node, each at its own address, discovering each other by mDNS only (no EKC_PEERS). Asserts
#   1. every node lists every other as a live member (control `peers`, CTL-READY-1) and reports the
#      time from start to discovered-by-all,
#   2. a proposal on the MCU commits and reaches the other two (equal `state` kv_digest), and one
#      proposed on the Go node reaches the MCU,
#   3. a commit burst proposed on the MCU (BURST proposals, default 20) all commit, with the MCU's
#      emulated busy fraction and QEMU's host CPU reported;
#   4. ROJ-WIRE-6 in a capture: the MCU sends EK-ROJ from 9990 and EK-KOR from 9991;
#   5. with EKC_MDNS=0 and EKC_PEERS only (ROJ-DISC-4), the MCU and the C node still become live
#      members of each other (the MCU's ARP request/queue path: nothing was learned beforehand).
# Needs the same prerequisites as test-firmware.sh plus the Go and C node binaries (built here).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
root="$(cd "$here/../../../.." && pwd)"
burst="${BURST:-20}"
[ "$burst" -le 40 ] || fail "BURST must be <= 40 (distinct keys within the 64-key store, ROJ-KV-2)"

make -s -C "$root/reference-impls/c" node >/dev/null || fail "C node build failed"
c_node="$root/reference-impls/c/build/ekc-node"
go_node="$root/reference-impls/go/bin/ekc-node-go"
if [ ! -x "$go_node" ]; then
  command -v just >/dev/null || fail "Go node binary missing and just is not installed"
  (cd "$root" && just build-node-go >/dev/null) || fail "Go node build failed"
fi

add_host go 10.213.0.11
add_host c 10.213.0.12
start_node() { # NS BIN NODE_ID MODULE IP LOG
  ip netns exec "$1-$$" env -i EKC_NODE_ID="$3" EKC_MODULE_ID="$4" EKC_BIND_IP="$5" EKC_CTL_PORT=9992 \
    EKC_ANNOUNCE_MS=500 "$2" >"$6" 2>&1 &
  extra_pids+=($!)
}
command -v tcpdump >/dev/null || fail "tcpdump is not installed (tools/setup.sh installs it)"
ip netns exec "$ns" tcpdump -i br0 -nn -U -w "$work/mcu.pcap" "udp and host 10.213.0.2" 2>/dev/null &
extra_pids+=($!)
sleep 0.5
t0=$(date +%s.%N)
boot "$work/mcu.log" EKC_ANNOUNCE_MS=500
start_node go "$go_node" go-1 1 10.213.0.11 "$work/go.log"
start_node c "$c_node" c-1 2 10.213.0.12 "$work/c.log"

ctl() { ip netns exec "$ns" python3 -c '
import json, sys
sys.path.insert(0, sys.argv[1])
import probe
args = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
r = probe.ctl(sys.argv[2], 9992, sys.argv[3], args)
print(json.dumps(r)); sys.exit(0 if r and r.get("ok") else 1)' "$here/tools" "$@"; }

ips=(10.213.0.2 10.213.0.11 10.213.0.12)
ids=(mcu-t1 go-1 c-1)
# One poller process (no process start per probe): every node's `peers` every 50 ms until each
# lists all three as live; prints seconds since t0 (the moment the first node was started).
t_all=$(ip netns exec "$ns" python3 - "$here/tools" "$t0" "${ips[*]}" "${ids[*]}" <<'PY'
import sys, time
sys.path.insert(0, sys.argv[1])
import probe
t0, ips, ids = float(sys.argv[2]), sys.argv[3].split(), set(sys.argv[4].split())
deadline = time.time() + 30
while time.time() < deadline:
    ok = True
    for ip in ips:
        r = probe.ctl(ip, 9992, "peers", timeout=0.3)
        if not (r and r.get("ok") and ids <= set(r["result"]["live"])):
            ok = False
            break
    if ok:
        print(f"{time.time() - t0:.2f}")
        sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
PY
) || {
  for ip in "${ips[@]}"; do echo "$ip: $(ctl "$ip" peers || true)" >&2; done
  tail -5 "$work/mcu.log" >&2
  fail "not every node lists every other as live within 30 s"
}
echo "interop: discovered-by-all (3 nodes: mcu, go, c) ${t_all} s after start"
for peer in go-1 c-1; do
  grep -q "\"msg\":\"peer resolved by mDNS\".*\"member\":\"$peer\"" "$work/mcu.log" \
    || fail "the MCU's own mDNS browser did not resolve $peer (ROJ-DISC-2/3)"
done
echo "interop: the MCU's mDNS browser resolved go-1 and c-1"

digest() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["result"]["kv_digest"])' "$(ctl "$1" state)"; }
converged() {
  local want; want=$(digest "${ips[0]}")
  for _ in $(seq 50); do
    local same=1
    for ip in "${ips[@]:1}"; do [ "$(digest "$ip")" = "$want" ] || same=0; done
    [ $same = 1 ] && { echo "$want"; return 0; }
    sleep 0.1; want=$(digest "${ips[0]}")
  done
  return 1
}
pr=$(ctl 10.213.0.2 propose '{"key":"bay3","value":"11000"}') || fail "propose on the MCU refused: $pr"
python3 -c 'import json,sys; r=json.loads(sys.argv[1])["result"]; assert r["pid"].startswith("mcu-t1:") and r["version"] == 1, r' "$pr" \
  || fail "propose result is not {pid, version} of the PROPOSE sent (CTL-CMD-4): $pr"
d=$(converged) || fail "the MCU's commit did not reach every node (kv_digest differs)"
[ "$d" != cbf29ce484222325 ] || fail "kv store still empty after the MCU's commit"
ctl 10.213.0.11 propose '{"key":"bay4","value":"7400"}' >/dev/null || fail "propose on the Go node refused"
d2=$(converged) || fail "the Go node's commit did not reach the MCU"
[ "$d2" != "$d" ] || fail "kv digest unchanged after the Go node's commit"
echo "interop: commits from the MCU and from the Go node converged on all 3 (kv_digest $d2)"

# ---- commit burst on the MCU ----
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
qemu_pid=$(pgrep -P "$qpid" -f qemu-system-arm || echo "$qpid")
hz=$(getconf CLK_TCK)
c0=$(cpu_ticks "$qemu_pid"); b0=$(date +%s.%N)
ip netns exec "$ns" python3 - "$here/tools" "$burst" <<'PY' || { tail -20 "$work/mcu.log" >&2; fail "commit burst"; }
import sys, time
sys.path.insert(0, sys.argv[1])
import probe
n = int(sys.argv[2])
t0 = time.monotonic()
for i in range(n):
    r = probe.ctl("10.213.0.2", 9992, "propose", {"key": f"b{i}", "value": str(i)}, timeout=3)
    if not r:
        sys.exit(f"propose {i}: no answer")
    if not r.get("ok"):
        if r.get("error") in ("locked", "capacity"):
            time.sleep(0.05)
            continue
        sys.exit(f"propose {i}: {r}")
deadline = time.monotonic() + 15
while time.monotonic() < deadline:
    st = probe.ctl("10.213.0.2", 9992, "state")["result"]
    if st["pending"] == 0:
        break
    time.sleep(0.1)
print(f"interop: burst of {n} proposals on the MCU settled in {time.monotonic() - t0:.2f} s")
PY
c1=$(cpu_ticks "$qemu_pid"); b1=$(date +%s.%N)
python3 -c "import sys; c=(float(sys.argv[2])-float(sys.argv[1]))/float(sys.argv[5]); w=float(sys.argv[4])-float(sys.argv[3]); print(f'interop: qemu host CPU during the burst {100*c/w:.1f}% of one core over {w:.2f} s')" "$c0" "$c1" "$b0" "$b1" "$hz"
d3=$(converged) || fail "nodes diverged after the burst"
for ip in "${ips[@]}"; do
  kv=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["result"]["kv_count"])' "$(ctl "$ip" state)")
  [ "$kv" = $((2 + burst)) ] || fail "$ip holds $kv keys after the burst, expected $((2 + burst))"
done
echo "interop: converged after the burst: $((2 + burst)) keys on every node (kv_digest $d3)"
# The MCU logs its load every 5 s; a fast run may have none yet (informational only).
{ grep '"mcu load"' "$work/mcu.log" || true; } | tail -2 | sed 's/^/interop: mcu: /'

# ROJ-WIRE-6: every EK-ROJ datagram from the MCU leaves its EK-ROJ port, every EK-KOR frame its
# EK-KOR port (from the capture of the whole run so far).
sleep 0.3
tcpdump -nn -r "$work/mcu.pcap" 'src host 10.213.0.2 and (dst port 9990 or dst port 9991)' 2>/dev/null >"$work/mcu.txt"
python3 - "$work/mcu.txt" <<'PY' || fail "ROJ-WIRE-6: the MCU sent from an unbound port"
import re, sys
counts = {"9990": 0, "9991": 0}
for line in open(sys.argv[1]):
    m = re.search(r"10\.213\.0\.2\.(\d+) > [\d.]+\.(\d+):", line)
    if not m:
        continue
    sport, dport = m.groups()
    if dport in counts:
        assert sport == dport, line
        counts[dport] += 1
assert counts["9990"] > 0 and counts["9991"] > 0, counts
print(f"interop: ROJ-WIRE-6: {counts['9990']} EK-ROJ datagrams from port 9990, {counts['9991']} EK-KOR frames from 9991")
PY

# ---- static peers, no mDNS (ROJ-DISC-4): the MCU must resolve the C node by its own ARP ----
stop
for p in "${extra_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
extra_pids=()
rm -rf "$work/state"/*
boot "$work/mcu-static.log" EKC_MDNS=0 EKC_PEERS=10.213.0.12 EKC_ANNOUNCE_MS=500
ip netns exec "c-$$" env -i EKC_NODE_ID=c-1 EKC_MODULE_ID=2 EKC_BIND_IP=10.213.0.12 EKC_CTL_PORT=9992 \
  EKC_MDNS=0 EKC_PEERS=10.213.0.2 EKC_ANNOUNCE_MS=500 "$c_node" >"$work/c-static.log" 2>&1 &
extra_pids+=($!)
ok=0
for _ in $(seq 40); do
  a=$(ctl 10.213.0.2 peers 2>/dev/null || true); b=$(ctl 10.213.0.12 peers 2>/dev/null || true)
  if echo "$a" | grep -q '"c-1"' && echo "$b" | grep -q '"mcu-t1"'; then
    python3 -c 'import json,sys; a,b=(json.loads(x)["result"]["live"] for x in sys.argv[1:]); sys.exit(0 if "c-1" in a and "mcu-t1" in b else 1)' "$a" "$b" && { ok=1; break; }
  fi
  sleep 0.25
done
[ $ok = 1 ] || { tail -5 "$work/mcu-static.log" >&2; fail "static peers without mDNS: MCU and C node did not become live members"; }
grep -q '"peer resolved by mDNS"' "$work/mcu-static.log" && fail "mDNS ran although EKC_MDNS=0"
# CTL-CAP-5: claims describe the firmware, not this boot, so `mdns` is claimed with EKC_MDNS=0 too
# (the lab selects scenarios from `caps`).
caps=$(ctl 10.213.0.2 caps) || fail "caps: $caps"
python3 -c 'import json,sys; c=json.loads(sys.argv[1])["result"]["caps"]; sys.exit(0 if {"roj","kor","ctl","mdns","persist"} <= set(c) else 1)' "$caps" \
  || fail "the MCU's caps with EKC_MDNS=0 lack a capability it implements (CTL-CAP-5): $caps"
echo "interop: static peers without mDNS (EKC_PEERS, ROJ-DISC-4): MCU and C node live members of each other"
echo "interop: PASS"
