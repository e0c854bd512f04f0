#!/usr/bin/env bash
# End-to-end `ekconform check` throughput on a generated capture of mixed EK-ROJ/EK-KOR packets,
# peak RSS, and the ratio against tshark decoding the same file in the same run. Both wall time and
# CPU time (user + sys) are reported: the target is per core, and on a shared machine the wall clock
# also counts time spent waiting for one.
# Usage: bench-check.sh [PACKETS] [RUNS]   (defaults 1000000 and 3; medians are reported)
set -euo pipefail
cd "$(dirname "$0")/../../.."
packets="${1:-1000000}"
runs="${2:-3}"
dir=.cache/bench-check
# v2: distinct clusters per appended run (KOR-EMIT-2); a cached capture of the old generator is not reused.
capture="$dir/mixed-v2-$packets.pcap"
mkdir -p "$dir"

command -v tshark >/dev/null || { echo "bench-check: tshark is not installed (tools/setup.sh installs it)" >&2; exit 2; }
# Two builds: with --example, cargo would build only the example and not the ekconform binary.
cargo build --release -q -p ekconform
cargo build --release -q -p ekc-checkers --example gen_capture
# EKC_BENCH_CHECKER overrides the judged binary (e.g. the check_file example, same library calls).
checker="${EKC_BENCH_CHECKER:-}"
target="${CARGO_TARGET_DIR:-target}/release"
if [ ! -s "$capture" ]; then
    "$target/examples/gen_capture" --out "$capture" --packets "$packets" --nodes 5 --proposals 400 --emissions 600 --span-ms 20000 --loss 0.02 --dup 0.01
fi
frames=$(python3 -c "
import struct,sys
f=open(sys.argv[1],'rb'); f.read(24); n=0
while True:
    h=f.read(16)
    if len(h)<16: break
    f.seek(struct.unpack('<I',h[8:12])[0],1); n+=1
print(n)" "$capture")

# One timed run: prints "wall_seconds cpu_seconds peak_rss_kib exit_code".
timed() {
    python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
dt = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{dt:.3f} {ru.ru_utime + ru.ru_stime:.3f} {ru.ru_maxrss} {p.returncode}")
if p.returncode not in (0, 1):
    sys.stderr.write(p.stderr.decode(errors="replace"))
PY
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "capture: $capture ($frames frames, $(du -h "$capture" | cut -f1))"
ek_times=(); ek_cpus=(); ek_rss=0
for i in $(seq "$runs"); do
    if [ -n "$checker" ]; then cmd=("$checker" "$capture"); else cmd=("$target/ekconform" check "$capture" --format json); fi
    read -r s cpu rss rc < <(timed "${cmd[@]}")
    [ "$rc" = 0 ] || { echo "bench-check: ekconform check exited $rc on a valid generated capture" >&2; "$target/ekconform" check "$capture" | sed -n '1,40p' >&2; exit 1; }
    ek_times+=("$s"); ek_cpus+=("$cpu"); [ "$rss" -gt "$ek_rss" ] && ek_rss=$rss
done
ts_times=(); ts_cpus=()
for i in $(seq "$runs"); do
    read -r s cpu rss rc < <(timed tshark -r "$capture" -d udp.port==9990,json -T fields -e frame.number -e udp.payload)
    ts_times+=("$s"); ts_cpus+=("$cpu")
done
ek=$(printf '%s\n' "${ek_times[@]}" | median)
ek_cpu=$(printf '%s\n' "${ek_cpus[@]}" | median)
ts=$(printf '%s\n' "${ts_times[@]}" | median)
ts_cpu=$(printf '%s\n' "${ts_cpus[@]}" | median)
python3 - "$frames" "$ek" "$ek_cpu" "$ts" "$ts_cpu" "$ek_rss" "$runs" <<'PY'
import sys
frames, runs = int(sys.argv[1]), sys.argv[7]
ek, ek_cpu, ts, ts_cpu, rss = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
print(f"ekconform check: median wall {ek:.3f} s = {frames/ek/1e6:.2f} M packets/s, median CPU {ek_cpu:.3f} s = {frames/ek_cpu/1e6:.2f} M packets/s (target >= 1.0 per core) over {runs} runs, peak RSS {rss/1024:.1f} MiB (target < 200)")
print(f"tshark decode:   median wall {ts:.3f} s = {frames/ts/1e6:.3f} M packets/s, median CPU {ts_cpu:.3f} s = {frames/ts_cpu/1e6:.3f} M packets/s over {runs} runs")
print(f"ratio: ekconform is {ts/ek:.1f}x (wall) / {ts_cpu/ek_cpu:.1f}x (CPU) faster than tshark (target >= 20x)")
PY
