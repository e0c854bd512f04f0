#!/usr/bin/env bash
# Proves the two link-time guards by breaking them on purpose (each must FAIL to link):
#   1. an object that calls malloc -> "undefined reference to `_sbrk'" (no heap, no syscall stubs);
#   2. 64 KiB of extra .bss -> the RAM region of the G474 budget overflows.
# Uses the objects of the last `make` (build/port, build/core).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
make -s >/dev/null
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
ARCH=(-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard)
LD=("${ARCH[@]}" -nostartfiles --specs=nano.specs -Wl,--gc-sections -Wl,-T,ld/g474-budget.ld)
objs=(build/port/*.o build/core/*.o)

printf '#include <stdlib.h>\nvoid *link_proof_heap(void);\n__attribute__((used)) void *link_proof_heap(void) { return malloc(16); }\n' > "$tmp/heap.c"
arm-none-eabi-gcc "${ARCH[@]}" -Os -c "$tmp/heap.c" -o "$tmp/heap.o"
if out=$(arm-none-eabi-gcc "${LD[@]}" -Wl,--undefined=link_proof_heap "${objs[@]}" "$tmp/heap.o" -o "$tmp/a.elf" 2>&1); then
  echo "link-proofs: FAIL: an image calling malloc linked" >&2; exit 1
fi
echo "$out" | grep -q "_sbrk" || { echo "link-proofs: FAIL: malloc link failed for another reason: $out" >&2; exit 1; }
echo "link-proofs: malloc reference rejected at link time (undefined _sbrk)"

printf '#include <stdint.h>\n__attribute__((used)) uint8_t link_proof_ram[64 * 1024];\n' > "$tmp/ram.c"
arm-none-eabi-gcc "${ARCH[@]}" -Os -c "$tmp/ram.c" -o "$tmp/ram.o"
if out=$(arm-none-eabi-gcc "${LD[@]}" -Wl,--undefined=link_proof_ram "${objs[@]}" "$tmp/ram.o" -o "$tmp/b.elf" 2>&1); then
  echo "link-proofs: FAIL: an image 64 KiB over the RAM budget linked" >&2; exit 1
fi
echo "$out" | grep -qi "RAM" || { echo "link-proofs: FAIL: RAM overflow link failed for another reason: $out" >&2; exit 1; }
echo "link-proofs: 64 KiB over the 128 KiB RAM budget rejected at link time"
