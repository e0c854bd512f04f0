#!/usr/bin/env bash
# End-to-end firmware test: builds the image (G474 budgets checked), boots it in QEMU mps2-an386
# with its LAN9118 on a TAP inside a private network namespace, and asserts that it
#   1. logs the known UART line "mcu firmware up" (as CTL-LOG-1 JSON),
#   2. answers ICMP echo (its own ARP + IPv4 + ICMP),
#   3. answers the control `ping` (CTL-CMD-1) with its configured node_id and module_id,
#   4. is discovered by an mDNS browser on the link (ROJ-DISC-1/2, multicast through the NIC's hash
#      filter) while frames to another MAC and to an unjoined group are dropped by the NIC (not
#      promiscuous, not pass-all-multicast),
#   5. keeps its own origin_seq across a restart through semihosting persistence (CTL-PERSIST-1),
# after proving the guards (tools/guard-proofs.sh: malloc and a RAM overflow fail to link, a stack
# overflow stops the node with a reported fault, bad configuration is refused).
# Needs root (netns), /dev/net/tun, qemu-system-arm, arm-none-eabi-gcc and python3: a missing one
# is a loud failure, never a skip. Prints the boot-to-ping times it measured.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
make -s -C "$here" check | sed 's/^/  /'
"$here/tools/guard-proofs.sh" || fail "a guard (no heap, RAM budget, stack overflow, bad configuration) does not hold"

# ---- 1. boot and UART ----
boot "$work/uart1.log"
for _ in $(seq 100); do grep -q '"msg":"mcu firmware up"' "$work/uart1.log" 2>/dev/null && break; sleep 0.1; done
grep -q '"msg":"mcu firmware up"' "$work/uart1.log" || { cat "$work/uart1.log" "$work/uart1.log.stderr" >&2; fail "no boot line on the UART within 10 s"; }
echo "test-firmware: boot line after $(elapsed) s"
python3 - "$work/uart1.log" <<'PY' || fail "UART log lines are not CTL-LOG-1 JSON"
import json, sys
for line in open(sys.argv[1]):
    rec = json.loads(line)
    assert {"ts", "level", "node", "msg"} <= rec.keys(), rec
PY

# ---- 3 (first, it is the readiness signal). control ping ----
t_ping=$(probe wait-ctl $mcu_ip 9992 10) || { cat "$work/uart1.log" >&2; fail "control ping not answered within 10 s"; }
echo "test-firmware: control ping answered $t_ping s after the first probe, $(elapsed) s after QEMU start"
resp=$(probe ctl $mcu_ip 9992 ping) || fail "control ping failed: $resp"
python3 -c 'import json,sys; r=json.loads(sys.argv[1])["result"]; assert r["node_id"]=="mcu-t1" and r["module_id"]==42, r' "$resp" \
  || fail "ping result does not carry the configured identity: $resp"

# ---- 2. ICMP ----
probe icmp $mcu_ip --count 3 || fail "ICMP echo"

# ---- 4. mDNS discovery ----
found=$(probe mdns-browse 4) || { cat "$work/uart1.log" >&2; fail "no mDNS answer on the link"; }
echo "$found" | grep -q '"instance": "mcu-t1"' || fail "mDNS answers do not name mcu-t1: $found"
echo "test-firmware: discovered by mDNS: $(echo "$found" | tr '\n' ' ')"

# ---- 4b. receive filter: promiscuous mode is off and only the joined group's hash bin passes ----
# Counted frames come from the firmware's "mcu load" records (cumulative rx_frames, every 5 s).
load_count() { grep -c '"msg":"mcu load"' "$work/uart1.log" || true; }
rx_of_last() { grep '"msg":"mcu load"' "$work/uart1.log" | tail -1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["rx_frames"])'; }
wait_record() { local n0; n0=$(load_count); for _ in $(seq 80); do [ "$(load_count)" -gt "$n0" ] && return 0; sleep 0.1; done; return 1; }
wait_record || fail "no load record from the firmware"
rx1=$(rx_of_last)
probe rawsend br0 02:00:00:00:00:99 200         # another station's unicast address
probe rawsend br0 01:00:5e:00:00:fc 200         # a group not joined (hash bin 62, mDNS is bin 15)
probe rawsend br0 02:ec:0a:d5:00:02 20          # the MCU's own address: must be received
wait_record || fail "no second load record from the firmware"
rx2=$(rx_of_last)
delta=$((rx2 - rx1))
[ "$delta" -ge 20 ] || fail "frames to the MCU's own MAC were not received ($delta counted)"
[ "$delta" -lt 120 ] || fail "receive filter passes foreign frames: $delta counted (promiscuous mode still on?)"
echo "test-firmware: receive filter: $delta of 420 frames accepted (20 to its own MAC; foreign unicast and an unjoined group dropped by the NIC)"

# ---- 5. persistence across a restart (CTL-PERSIST-1) ----
emit() { ip netns exec "$ns" python3 -c '
import json, sys
sys.path.insert(0, sys.argv[1])
import probe
r = probe.ctl(sys.argv[2], 9992, "emit", {"event_type": 128, "payload_hex": "00" * 20})
print(json.dumps(r)); sys.exit(0 if r and r.get("ok") else 1)' "$here/tools" $mcu_ip; }
r1=$(emit) || fail "emit before restart: $r1"
r2=$(emit) || fail "second emit before restart: $r2"
# Power cut right after the answer: CTL-PERSIST-1 wants VV[self] durable before the event is sent.
stop KILL
seq2=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["result"]["origin_seq"])' "$r2")
[ -s "$work/state/mcu-state.bin" ] || fail "no persisted state file after emits"
boot "$work/uart2.log"
probe wait-ctl $mcu_ip 9992 10 >/dev/null || fail "no control ping after restart"
r3=$(emit) || fail "emit after restart: $r3"
seq3=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["result"]["origin_seq"])' "$r3")
[ "$seq3" -gt "$seq2" ] || fail "origin_seq reused after restart: before $seq2, after $seq3 (KOR-VV-2)"
echo "test-firmware: origin_seq $seq2 before restart, $seq3 after (persisted through semihosting)"
stop
echo "test-firmware: PASS (6 checks + 4 guard proofs)"
