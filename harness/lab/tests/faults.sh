#!/usr/bin/env bash
# Fault injection through the lab, on real containers:
#  1. The short run just made (REPORTS, default target/lab-reports/latest) recorded, for every case
#     with faults, the backend that applied each fault and measurements from its own capture, and
#     every fault was visibly applied (a measured effect, not the configuration, is the evidence).
#  2. Forcing the netem backend on a kernel without sch_netem stops the run before any case starts,
#     with the reason, and creates nothing; where the kernel has netem, the forced run passes.
# Fails loudly when Docker is unavailable.
set -euo pipefail
cd "$(dirname "$0")/../../.."
EKC="${EKC:-target/debug/ekconform}"
REPORTS="${REPORTS:-target/lab-reports/latest}"
docker info >/dev/null 2>&1 || { echo "fault test: Docker is not available" >&2; exit 1; }
[ -x "$EKC" ] || { echo "fault test: $EKC is not built" >&2; exit 1; }
fail() { echo "fault test: $*" >&2; exit 1; }

# 1. What the short run recorded.
results="$REPORTS/results.json"
[ -f "$results" ] || fail "no $results (run the short matrix first)"
cases=$(jq '[.cases[] | select(.metrics.fault_measurements != null)] | length' "$results")
[ "$cases" -ge 1 ] || fail "the short run has no case with faults"
jq -e '[.cases[] | select(.metrics.fault_measurements != null) | .metrics.fault_measurements[] | select(.applied != true)] | length == 0' "$results" >/dev/null \
  || fail "a fault was not applied: $(jq -c '[.cases[] | .metrics.fault_measurements // [] | .[] | select(.applied != true)]' "$results")"
jq -e '[.cases[] | select(.metrics.fault_measurements != null) | .metrics.fault_measurements[] | select(.backend == "")] | length == 0' "$results" >/dev/null \
  || fail "a fault measurement names no backend"
kinds=$(jq -r '[.cases[] | .metrics.fault_measurements // [] | .[] | .kind] | unique | join(",")' "$results")
for dir in $(jq -r '.cases[] | select(.metrics.fault_measurements != null) | .dir' "$results"); do
  [ -s "$REPORTS/$dir/faults.json" ] || fail "$dir has no faults.json"
done
echo "fault test: $cases case(s) with faults, every fault applied and measured from the capture ($kinds)"

# 2. A forced backend the kernel lacks.
probe=$(docker run --rm --label io.ekconform.managed=true --network none --cap-drop ALL --cap-add NET_ADMIN ekconform/faults:dev probe-kernel)
has_netem=$(echo "$probe" | jq -r .kernel_has_netem)
out=$(mktemp -d)
code=0
"$EKC" run -s loss-commits --mix rust --impls rust --fault-backend netem --reports "$out" >"$out/log" 2>&1 &
pid=$!
wait "$pid" || code=$?
left=$(( $(docker ps -aq --filter "label=io.ekconform.pid=$pid" | wc -l) + $(docker network ls -q --filter "label=io.ekconform.pid=$pid" | wc -l) ))
if [ "$has_netem" = "false" ]; then
  [ "$code" -eq 2 ] || fail "forced netem on a kernel without sch_netem exited $code (expected 2): $(tail -3 "$out/log")"
  grep -q "backend unavailable: the netem backend was requested" "$out/log" || fail "no clear reason: $(tail -3 "$out/log")"
  [ "$left" -eq 0 ] || fail "the refused run left $left object(s)"
  echo "fault test: forced netem without sch_netem refused before any case: $(grep -o 'backend unavailable.*' "$out/log" | head -1 | cut -c1-100)"
else
  [ "$code" -eq 0 ] || fail "forced netem on a kernel with sch_netem exited $code: $(tail -3 "$out/log")"
  echo "fault test: this kernel has sch_netem; the forced netem run passed"
fi
rm -rf "$out"
