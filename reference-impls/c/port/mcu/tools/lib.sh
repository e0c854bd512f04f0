# Shared by test-firmware.sh and bench-firmware.sh: prerequisites, a private network namespace with
# a TAP for the emulated LAN9118, and booting/stopping the firmware in QEMU. Source it; it sets
# `here`, `ns`, `work`, `mcu_ip` and an EXIT trap that removes everything it created.

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fail() { echo "$(basename "$0"): FAIL: $*" >&2; exit 1; }
for tool in qemu-system-arm arm-none-eabi-gcc python3 ip make; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (tools/setup.sh installs it)"
done
[ "$(id -u)" = 0 ] || fail "needs root for a network namespace and a TAP device"
[ -c /dev/net/tun ] || fail "/dev/net/tun is missing"

make -s -C "$here" >/dev/null || fail "firmware build or budget check failed (run make -C $here)"
make -s -C "$here" mkcfg >/dev/null || fail "mkcfg build failed"

ns="ekcfw-$$"
work="$(mktemp -d)"
qpid=""
mcu_ip=10.213.0.2
extra_ns=()
extra_pids=()
cleanup() {
  if [ -n "$qpid" ]; then kill "$qpid" 2>/dev/null || true; wait "$qpid" 2>/dev/null || true; fi
  for p in "${extra_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  for n in "${extra_ns[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The link: a bridge in namespace $ns (the prober's address 10.213.0.1) with QEMU's TAP on it;
# add_host puts further nodes on the same bridge, each in a namespace of its own.
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" ip link add br0 type bridge forward_delay 0 mcast_snooping 0
ip netns exec "$ns" ip tuntap add dev tap0 mode tap
ip netns exec "$ns" ip link set tap0 master br0
ip netns exec "$ns" ip addr add 10.213.0.1/24 dev br0
ip netns exec "$ns" ip link set tap0 up
ip netns exec "$ns" ip link set br0 up
ip netns exec "$ns" ip route add 224.0.0.0/4 dev br0
mkdir -p "$work/state"

# add_host NAME IP: a namespace NAME on the bridge with address IP/24.
add_host() {
  local n="$1-$$" i="${#extra_ns[@]}"
  ip netns add "$n"; extra_ns+=("$n")
  ip link add "ekv$i-$$" type veth peer name eth0 netns "$n"
  ip link set "ekv$i-$$" netns "$ns"
  ip netns exec "$ns" ip link set "ekv$i-$$" master br0 up
  ip netns exec "$n" ip link set lo up
  ip netns exec "$n" ip addr add "$2/24" dev eth0
  ip netns exec "$n" ip link set eth0 up
  ip netns exec "$n" ip route add 224.0.0.0/4 dev eth0
}

# boot LOGFILE [VAR=value ...]: writes a configuration blob and starts QEMU in the background.
boot() {
  local log="$1"; shift
  env EKC_NODE_ID=mcu-t1 EKC_MODULE_ID=42 EKC_BIND_IP=$mcu_ip EKC_CTL_PORT=9992 \
    EKC_STATE_DIR="$work/state" "$@" "$here/build/mkcfg" "$work/cfg.bin"
  t_start=$(date +%s.%N)
  ip netns exec "$ns" qemu-system-arm -M mps2-an386 -display none -monitor none \
    -serial "file:$log" -semihosting-config enable=on,target=native \
    -kernel "$here/build/ekc-mcu.elf" -device loader,file="$work/cfg.bin",addr=0x7f800 \
    -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -net nic,netdev=n0,model=lan9118 \
    2>"$log.stderr" &
  qpid=$!
}
stop() { kill "-${1:-TERM}" "$qpid"; wait "$qpid" 2>/dev/null || true; qpid=""; }
probe() { ip netns exec "$ns" python3 "$here/tools/probe.py" "$@"; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$t_start" "$(date +%s.%N)"; }
