#!/usr/bin/env bash
# Checks a firmware ELF against the STM32G474 budgets and reports the worst static stack frames.
# Fails when flash > 512 KiB (510 KiB code + the 2 KiB configuration page) or RAM > 128 KiB, or
# when any heap symbol made it into the image.
set -euo pipefail
elf="$1"; build="$2"
NM="${CROSS:-arm-none-eabi-}nm"
FLASH_BUDGET=$((510 * 1024)); RAM_BUDGET=$((128 * 1024))

sym() { local h; h=$("$NM" "$elf" | awk -v s="$1" '$3 == s { print $1 }'); [ -n "$h" ] && echo $((16#$h)); }
flash=$(sym __flash_used); ram=$(sym __ram_used); stack_lo=$(sym __stack_limit); stack_hi=$(sym __stack_top)
bss_lo=$(sym __bss_start); bss_hi=$(sym __bss_end); data_lo=$(sym __data_start); data_hi=$(sym __data_end)
[ -n "$flash" ] && [ -n "$ram" ] || { echo "budget: budget symbols missing from $elf" >&2; exit 1; }

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", 100 * a / b }'; }
echo "budget: flash $flash B of $FLASH_BUDGET B ($(pct "$flash" "$FLASH_BUDGET")%)," \
  "RAM $ram B of $RAM_BUDGET B ($(pct "$ram" "$RAM_BUDGET")%):" \
  "data $((data_hi - data_lo)), bss $((bss_hi - bss_lo)), stack $((stack_hi - stack_lo))"

fail=0
if [ "$flash" -gt "$FLASH_BUDGET" ]; then echo "budget: FLASH over the G474 budget" >&2; fail=1; fi
if [ "$ram" -gt "$RAM_BUDGET" ]; then echo "budget: RAM over the G474 budget" >&2; fail=1; fi
heap=$("$NM" "$elf" | awk '$3 ~ /^(_?malloc|_malloc_r|_?free|_free_r|calloc|_calloc_r|realloc|_realloc_r|_sbrk|_sbrk_r)$/ { print $3 }' | tr '\n' ' ')
if [ -n "$heap" ]; then echo "budget: heap symbols linked: $heap" >&2; fail=1; fi

echo "budget: worst static stack frames (-fstack-usage, bytes):"
cat "$build"/port/*.su "$build"/core/*.su 2>/dev/null | sort -t$'\t' -k2,2nr | awk 'NR <= 8' | \
  awk -F'\t' '{ printf "  %6d  %-8s %s\n", $2, $3, $1 }'
if grep -qh 'dynamic' "$build"/port/*.su "$build"/core/*.su 2>/dev/null; then
  echo "budget: functions with dynamic stack use:"; grep -h 'dynamic' "$build"/port/*.su "$build"/core/*.su | sed 's/^/  /'
fi
exit $fail
