#!/usr/bin/env bash
# Proves the firmware's guards by breaking them on purpose:
#   1. an object that calls malloc must FAIL to link ("undefined reference to `_sbrk'": no heap,
#      no syscall stubs);
#   2. 64 KiB of extra .bss must FAIL to link (the RAM region of the G474 budget overflows);
#   3. a build that recurses without bound must stop QEMU with a reported hard fault (the stack
#      sits at the bottom of SRAM, so an overflow faults instead of corrupting .bss);
#   4. bad configuration: mkcfg rejects malformed EKC_* values with one line and exit 2
#      (CTL-IMG-1, CTL-ENV-16), and the firmware refuses a blob with a flipped byte (CRC) with an
#      error log line and a failure exit instead of running with garbage.
# Uses the objects of the last `make` (build/port, build/core) and builds the proof variant apart.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
make -s >/dev/null
make -s mkcfg >/dev/null
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
ARCH=(-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard)
LD=("${ARCH[@]}" -nostartfiles --specs=nano.specs -Wl,--gc-sections -Wl,-T,ld/g474-budget.ld)
objs=(build/port/*.o build/core/*.o)

printf '#include <stdlib.h>\nvoid *link_proof_heap(void);\n__attribute__((used)) void *link_proof_heap(void) { return malloc(16); }\n' > "$tmp/heap.c"
arm-none-eabi-gcc "${ARCH[@]}" -Os -c "$tmp/heap.c" -o "$tmp/heap.o"
if out=$(arm-none-eabi-gcc "${LD[@]}" -Wl,--undefined=link_proof_heap "${objs[@]}" "$tmp/heap.o" -o "$tmp/a.elf" 2>&1); then
  echo "guard-proofs: FAIL: an image calling malloc linked" >&2; exit 1
fi
echo "$out" | grep -q "_sbrk" || { echo "guard-proofs: FAIL: malloc link failed for another reason: $out" >&2; exit 1; }
echo "guard-proofs: malloc reference rejected at link time (undefined _sbrk)"

printf '#include <stdint.h>\n__attribute__((used)) uint8_t link_proof_ram[64 * 1024];\n' > "$tmp/ram.c"
arm-none-eabi-gcc "${ARCH[@]}" -Os -c "$tmp/ram.c" -o "$tmp/ram.o"
if out=$(arm-none-eabi-gcc "${LD[@]}" -Wl,--undefined=link_proof_ram "${objs[@]}" "$tmp/ram.o" -o "$tmp/b.elf" 2>&1); then
  echo "guard-proofs: FAIL: an image 64 KiB over the RAM budget linked" >&2; exit 1
fi
echo "$out" | grep -qi "RAM" || { echo "guard-proofs: FAIL: RAM overflow link failed for another reason: $out" >&2; exit 1; }
echo "guard-proofs: 64 KiB over the 128 KiB RAM budget rejected at link time"

command -v qemu-system-arm >/dev/null || { echo "guard-proofs: FAIL: qemu-system-arm missing" >&2; exit 1; }
make -s BUILD="$tmp/ovf" EXTRA_CFLAGS=-DMCU_PROOF_STACK_OVERFLOW >/dev/null
EKC_NODE_ID=proof EKC_MODULE_ID=1 EKC_BIND_IP=10.0.0.2 build/mkcfg "$tmp/cfg.bin"
set +e
out=$(timeout 20 qemu-system-arm -M mps2-an386 -display none -monitor none -serial stdio -nic none \
  -semihosting-config enable=on,target=native -kernel "$tmp/ovf/ekc-mcu.elf" \
  -device loader,file="$tmp/cfg.bin",addr=0x7f800 2>/dev/null); rc=$?
set -e
if [ $rc != 1 ] || ! echo "$out" | grep -q '"msg":"hard fault"'; then
  echo "guard-proofs: FAIL: unbounded recursion did not end in a reported fault (rc=$rc): $out" >&2; exit 1
fi
echo "guard-proofs: stack overflow stopped the node with a reported hard fault (QEMU exit 1)"

bad_cfg() { # VAR=value ... : must exit 2 with exactly one stderr line naming the variable
  local var="${1%%=*}" err rc
  set +e
  err=$(env -i EKC_NODE_ID=ok-1 EKC_MODULE_ID=3 EKC_BIND_IP=10.0.0.2 "$@" build/mkcfg "$tmp/bad.bin" 2>&1 >/dev/null); rc=$?
  set -e
  if [ $rc != 2 ] || [ "$(printf '%s\n' "$err" | wc -l)" != 1 ] || ! printf '%s' "$err" | grep -q "$var"; then
    echo "guard-proofs: FAIL: mkcfg accepted or garbled bad $*: rc=$rc: $err" >&2; exit 1
  fi
}
bad_cfg EKC_NODE_ID=Bad_Id
bad_cfg EKC_NODE_ID=-lead
bad_cfg EKC_NODE_ID=seventeen-chars-x
bad_cfg EKC_MODULE_ID=0
bad_cfg EKC_MODULE_ID=256
bad_cfg EKC_MODULE_ID=3x
bad_cfg EKC_BIND_IP=10.0.0
bad_cfg EKC_BIND_IP=10.0.0.256
bad_cfg EKC_MDNS=2
bad_cfg EKC_LOG=xml
bad_cfg EKC_PEERS=10.0.0.3,
bad_cfg EKC_PEERS=10.0.0.3:0
bad_cfg EKC_SEED=-1
bad_cfg EKC_PROPOSAL_TIMEOUT_MS=50
echo "guard-proofs: mkcfg rejects 14 malformed EKC_* values, one line each, exit 2"

cp "$tmp/cfg.bin" "$tmp/corrupt.bin"
printf '\x58' | dd of="$tmp/corrupt.bin" bs=1 seek=9 conv=notrunc status=none # inside node_id
set +e
out=$(timeout 20 qemu-system-arm -M mps2-an386 -display none -monitor none -serial stdio -nic none \
  -semihosting-config enable=on,target=native -kernel build/ekc-mcu.elf \
  -device loader,file="$tmp/corrupt.bin",addr=0x7f800 2>/dev/null); rc=$?
set -e
if [ $rc != 1 ] || ! echo "$out" | grep -q '"msg":"configuration blob CRC mismatch"'; then
  echo "guard-proofs: FAIL: a corrupted configuration blob was not refused (rc=$rc): $out" >&2; exit 1
fi
echo "guard-proofs: corrupted configuration blob refused (CRC), node stopped with exit 1"
