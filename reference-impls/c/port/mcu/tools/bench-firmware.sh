#!/usr/bin/env bash
# Firmware figures under QEMU (see bench_firmware.py for what is measured). Same prerequisites as
# test-firmware.sh; also builds the POSIX C node, the comparator for the commit burst.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
root="$(cd "$here/../../../.." && pwd)"
make -s -C "$root/reference-impls/c" node >/dev/null || fail "C node build failed"
make -s -C "$here" check | awk 'NR == 1'
add_host cmp 10.213.0.12
ip netns exec "$ns" python3 "$here/tools/bench_firmware.py" \
  --ns "$ns" --cmp-ns "cmp-$$" --work "$work" --elf "$here/build/ekc-mcu.elf" \
  --mkcfg "$here/build/mkcfg" --c-node "$root/reference-impls/c/build/ekc-node" \
  --boots "${BOOTS:-5}" --window "${WINDOW:-10}"
