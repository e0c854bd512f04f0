#!/usr/bin/env bash
# Bounds of the capture ingest: (1) `ekconform diff` of two ~5 MB captures that differ everywhere
# (different clusters and seeds; Myers alone is quadratic there), wall time, target < 5 s;
# (2) peak RSS of `ekconform check` on a ~500 MB capture of IPv4 fragment sets that never complete
# (memory must not grow with the file). Generated files are kept in .cache/bench-ingest/.
# Usage: bench-ingest.sh [FRAGMENT_MB]   (default 500)
set -euo pipefail
cd "$(dirname "$0")/../../.."
mb="${1:-500}"
dir=.cache/bench-ingest
mkdir -p "$dir"
[ -x /usr/bin/time ] || { echo "bench-ingest: /usr/bin/time is not installed (Debian package time)" >&2; exit 2; }
cargo build --release -q -p ekconform
cargo build --release -q -p ekc-checkers --example gen_capture --example gen_fragments
target="${CARGO_TARGET_DIR:-target}/release"
[ -s "$dir/a.pcap" ] || "$target/examples/gen_capture" --out "$dir/a.pcap" --packets 50000 --nodes 5 --seed 1
[ -s "$dir/b.pcap" ] || "$target/examples/gen_capture" --out "$dir/b.pcap" --packets 50000 --nodes 7 --seed 999 --loss 0.1
[ -s "$dir/fragments-$mb.pcap" ] || "$target/examples/gen_fragments" --out "$dir/fragments-$mb.pcap" --mb "$mb"

# /usr/bin/time -v on stderr; the command's own exit code (0 same/pass, 1 different/fail) is fine.
measure() {
    local log="$dir/time.log"
    /usr/bin/time -v "$@" >/dev/null 2>"$log" || [ $? -le 1 ] || { cat "$log" >&2; exit 1; }
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
    echo "$wall $rss"
}
read -r wall rss < <(measure "$target/ekconform" diff "$dir/a.pcap" "$dir/b.pcap")
echo "diff: $(du -h "$dir/a.pcap" | cut -f1) vs $(du -h "$dir/b.pcap" | cut -f1), wall $wall (target < 5 s), peak RSS $((rss / 1024)) MiB"
read -r wall rss < <(measure "$target/ekconform" check "$dir/fragments-$mb.pcap")
echo "check on $(du -h "$dir/fragments-$mb.pcap" | cut -f1) of incomplete fragment sets: wall $wall, peak RSS $((rss / 1024)) MiB (bounded by the reassembly limits, not by the file)"
