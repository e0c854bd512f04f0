#!/bin/bash
# Entrypoint of the emulated-MCU node (control.md CTL-IMG-1..3). Reads the same EKC_* variables as
# every node, hands the container's IPv4 address to the MCU (flushes it from eth0 and bridges eth0
# with the TAP that QEMU's LAN9118 uses), writes the boot configuration blob and runs QEMU in the
# foreground with the UART on stdout. SIGTERM is forwarded to QEMU, which stops at once (CTL-IMG-3).
# Needs NET_ADMIN and /dev/net/tun only (declared by the image label io.ekconform.requires).
# EKC_EMULATOR picks the emulator among those the image declares (io.ekconform.emulators; only
# `qemu` is installed here); the first log line names the one that runs, so a report can say which.
set -euo pipefail

die() { echo "ekc-mcu: $*" >&2; exit 2; }
iface="${EKC_MCU_IFACE:-eth0}"
[ -c /dev/net/tun ] || die "/dev/net/tun is missing (run with --device /dev/net/tun)"

cidr="$(ip -4 -o addr show dev "$iface" 2>/dev/null | awk '{ print $4; exit }')"
mac="$(cat "/sys/class/net/$iface/address" 2>/dev/null || true)"
if [ -z "$cidr" ]; then
  # A restarted container whose address already moved to the MCU keeps the bridge.
  cidr="$(cat /dev/shm/ekc-mcu.addr 2>/dev/null || true)"
  mac="$(cat /dev/shm/ekc-mcu.mac 2>/dev/null || true)"
fi
[ -n "$cidr" ] || die "no IPv4 address on $iface"
ip_addr="${cidr%/*}"; prefix="${cidr#*/}"
if [ -n "${EKC_BIND_IP:-}" ] && [ "$EKC_BIND_IP" != "$ip_addr" ]; then
  die "EKC_BIND_IP=$EKC_BIND_IP differs from the container address $ip_addr (the MCU takes the container's address)"
fi
export EKC_BIND_IP="$ip_addr" EKC_MCU_PREFIX="$prefix"
# The MCU also takes the container's MAC. Whoever reached the container before the address moved
# (the harness's first probes arrive while this script runs) holds a neighbour entry with that MAC,
# which Linux keeps for up to 45 s and, within its 1 s locktime, even against the MCU's gratuitous
# ARP: with a MAC of its own the MCU stayed unreachable from such a peer for seconds.
[ -n "${EKC_MCU_MAC:-}" ] || export EKC_MCU_MAC="$mac"

cfg=/dev/shm/ekc-mcu.cfg # writable even with a read-only root file system (CTL-IMG-2)
/opt/ekc-mcu/mkcfg "$cfg" # validates EKC_*; prints one line and exits 2 on a bad value

emulator="${EKC_EMULATOR:-qemu}"
case "$emulator" in
  qemu) ;;
  renode) die "EKC_EMULATOR=renode: Renode is not installed in this image (its platform description is reference-impls/c/port/mcu/renode/)" ;;
  *) die "EKC_EMULATOR=$emulator: this image runs only qemu" ;;
esac
machine=mps2-an386
qemu_version="$(cat /opt/ekc-mcu/qemu-version)"
# Before the firmware's own lines, in the same log format (CTL-LOG-1); mkcfg already validated
# EKC_NODE_ID and EKC_LOG, so both are safe to print unquoted.
if [ "${EKC_LOG:-json}" = text ]; then
  echo "0 info $EKC_NODE_ID emulator qemu-system-arm version=$qemu_version machine=$machine nic=lan9118"
else
  printf '{"ts":"%s","level":"info","node":"%s","msg":"emulator","emulator":"qemu-system-arm","version":"%s","machine":"%s","nic":"lan9118"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$EKC_NODE_ID" "$qemu_version" "$machine"
fi

if ! ip link show br0 >/dev/null 2>&1; then
  ip link add br0 type bridge forward_delay 0 mcast_snooping 0 || die "cannot create a bridge (needs NET_ADMIN)"
  ip tuntap add dev tap0 mode tap || die "cannot create tap0 (needs NET_ADMIN and /dev/net/tun)"
  echo "$cidr" > /dev/shm/ekc-mcu.addr
  echo "$mac" > /dev/shm/ekc-mcu.mac
  ip addr flush dev "$iface"
  # The bridge port gives its MAC up to the MCU: a port's own address is delivered to the bridge
  # itself, never forwarded to tap0. 06:ec:<IPv4> is locally administered and unique per address.
  if [ "${EKC_MCU_MAC,,}" = "${mac,,}" ]; then
    ip link set "$iface" address "$(printf '06:ec:%02x:%02x:%02x:%02x' ${ip_addr//./ })" || die "cannot change the MAC of $iface"
  fi
  ip link set "$iface" master br0
  ip link set tap0 master br0
  ip link set tap0 up
  ip link set br0 up
fi

qemu-system-arm -M "$machine" -display none -monitor none -serial stdio \
  -semihosting-config enable=on,target=native \
  -kernel /opt/ekc-mcu/ekc-mcu.elf -device loader,file="$cfg",addr=0x7f800 \
  -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -net nic,netdev=n0,model=lan9118 \
  </dev/null &
qpid=$!
trap 'kill -TERM "$qpid" 2>/dev/null' TERM INT
set +e
wait "$qpid"; rc=$?
if kill -0 "$qpid" 2>/dev/null; then wait "$qpid"; rc=$?; fi
exit "$rc"
