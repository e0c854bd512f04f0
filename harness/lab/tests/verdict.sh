#!/usr/bin/env bash
# Verdict semantics on real Docker (C reference node, two short runs):
#  1. a capture is judged whatever the steps did: a 72-byte EK-KOR frame on the wire followed by a
#     step that cannot hold gives `fail` led by KOR-WIRE-2 with its frame, the failed step reported
#     beside it (`step_failure`, ROJ-KV-1), and `ekconform run` exits 1;
#  2. a degenerate scenario (`timeout_s = 0`) is refused at load time, exit 2, naming the field,
#     and no case runs;
#  3. a capture that lost frames is never judged a pass: a clean case whose capture file is capped
#     at 0 MiB (every frame counted by the capture helper and kept out) is an error, exit 2, that
#     says how many frames are missing, and results.json carries the helper's counts; the same case
#     uncapped passes with zero drops.
# Fails loudly without Docker or without the images (`ekconform images`).
set -euo pipefail
cd "$(dirname "$0")/../../.."
EKC="${EKC:-target/debug/ekconform}"
fail() { echo "lab verdict test: FAIL: $*" >&2; exit 1; }
docker info >/dev/null 2>&1 || fail "Docker is not available"
[ -x "$EKC" ] || fail "$EKC is not built"
command -v jq >/dev/null || fail "jq is not installed"
out="${LAB_VERDICT_REPORTS:-target/lab-reports-verdict}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/scen" "$out"

cat >"$tmp/scen/001-oversize.toml" <<TOML
name = "oversize-then-step-fails"
summary = "a 72-byte EK-KOR frame on the wire, then a step that cannot hold"
clauses = ["KOR-WIRE-2"]
size = 2
mixes = "homogeneous"
fake_peer = true
timeout_s = 30

[[steps]]
do = "inject"
node = 0
port = "kor"
hex = "$(printf '01%.0s' $(seq 72))"

[[steps]]
do = "await_kv"
key = "never-proposed"
within_ms = 1000
TOML
rc=0
"$EKC" run --scenario-dir "$tmp/scen" --impls c --reports "$out" >"$tmp/run.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || { tail -5 "$tmp/run.log" >&2; fail "the run exited $rc, expected 1"; }
res="$out/latest/results.json"
jq -e '.cases[0] | .verdict == "fail" and .clause == "KOR-WIRE-2" and .capture_judged
       and (.reason | startswith("checkers: 1 violation(s); first: [KOR-WIRE-2]"))
       and .step_failure.clause == "ROJ-KV-1" and (.reason | test("beside it, the steps: fail \\[ROJ-KV-1\\] step 2 \\(await_kv\\)"))
       and (.findings | map(.clause) == ["KOR-WIRE-2"])' "$res" >/dev/null \
  || fail "judged-despite-a-failed-step: $(jq -c '.cases[0] | {verdict, clause, reason, capture_judged, step_failure, findings}' "$res")"
echo "lab verdict test: a failed step leaves the capture judged: $(jq -r '.cases[0].reason' "$res" | cut -c1-160)"

sed -i 's/^timeout_s = 30/timeout_s = 0/' "$tmp/scen/001-oversize.toml"
rc=0
"$EKC" run --scenario-dir "$tmp/scen" --impls c --reports "$tmp/none" >"$tmp/zero.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "timeout_s = 0: exit $rc, expected 2"
grep -q '`timeout_s` = 0 must be 1..=1800 seconds' "$tmp/zero.log" || fail "timeout_s = 0: unclear refusal: $(cat "$tmp/zero.log")"
[ ! -e "$tmp/none" ] || [ -z "$(ls -A "$tmp/none")" ] || fail "a refused scenario wrote a report"
echo "lab verdict test: timeout_s = 0 refused at load time: $(grep timeout_s "$tmp/zero.log" | head -1)"
# 3: the same real case, capped and uncapped (the uncapped run shows it is otherwise a pass).
rc=0
"$EKC" run -s concurrent-commits --impls c --mix c --reports "$out" >"$tmp/whole.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || { tail -5 "$tmp/whole.log" >&2; fail "concurrent-commits@c exited $rc, expected 0"; }
jq -e '.cases[0] | .verdict == "pass" and .metrics.capture_integrity.kernel_drops == 0
       and .metrics.capture_integrity.capped_frames == 0 and .metrics.capture_integrity.frames > 100' "$out/latest/results.json" >/dev/null \
  || fail "uncapped: $(jq -c '.cases[0] | {verdict, reason, capture: .metrics.capture_integrity}' "$out/latest/results.json")"
rc=0
"$EKC" run -s concurrent-commits --impls c --mix c --capture-max-mb 0 --reports "$out" >"$tmp/capped.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || { tail -5 "$tmp/capped.log" >&2; fail "capped capture: exit $rc, expected 2"; }
jq -e '.cases[0] | .verdict == "error" and (.capture_judged | not)
       and (.reason | test("capture incomplete: [0-9]+ frame\\(s\\) past the capture.s size cap of 0 MiB"))
       and .metrics.capture_integrity.capped_frames > 100 and .metrics.capture_integrity.frames == 0' "$out/latest/results.json" >/dev/null \
  || fail "capped capture: $(jq -c '.cases[0] | {verdict, reason, capture: .metrics.capture_integrity}' "$out/latest/results.json")"
echo "lab verdict test: a capped capture is an error: $(jq -r '.cases[0].reason' "$out/latest/results.json" | cut -c1-160)"
echo "lab verdict test: pass"
