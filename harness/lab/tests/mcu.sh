#!/usr/bin/env bash
# The emulated firmware node (implementation `mcu`, QEMU mps2-an386) in the lab's matrix, on real
# Docker, and what the lab grants and reports for it:
#  1. mixed clusters: the short scenarios on rust+go+c+mcu and on go+mcu, all pass;
#  2. restart with persistence (EKC_STATE_DIR): every node of rust+go+c+mcu and of a homogeneous
#     mcu cluster is killed right after emitting and started again, and continues its sequence;
#  3. every mcu node was granted exactly NET_ADMIN and /dev/net/tun (as the engine reports it), every
#     native node nothing, and the results name the emulator that ran;
#  4. a scenario needing a capability the mcu does not claim (kor-retx) is not-applicable on go+mcu,
#     never pass or fail, while the same scenario passes on go alone; the run still exits 0;
#  5. an image asking for more than the whitelist, and an emulator the image does not have, are
#     refused before any container starts.
# Prints the mcu's boot-to-discovered-by-all times and the wall time of each run. Fails loudly
# without Docker or without the images (`ekconform images`).
set -euo pipefail
cd "$(dirname "$0")/../../.."
EKC="${EKC:-target/debug/ekconform}"
fail() { echo "lab mcu test: FAIL: $*" >&2; exit 1; }
docker info >/dev/null 2>&1 || fail "Docker is not available"
[ -x "$EKC" ] || fail "$EKC is not built"
command -v jq >/dev/null || fail "jq is not installed"
out="${LAB_MCU_REPORTS:-target/lab-reports-mcu}"
mkdir -p "$out"
tmp=$(mktemp -d)
evil="ekconform/test-overreach:$$"
cleanup() { rm -rf "$tmp"; docker rmi -f "$evil" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# run NAME EXPECTED_CASES ARGS...: one `ekconform run`, which must exit 0 with EXPECTED_CASES cases.
run() {
  local name="$1" want="$2"; shift 2
  local t0=$SECONDS rc=0
  "$EKC" run --reports "$out/$name" "$@" >"$tmp/$name.log" 2>&1 || rc=$?
  local res="$out/$name/latest/results.json"
  if [ $rc != 0 ] || [ ! -f "$res" ]; then
    grep -E 'FAIL|ERROR|ekconform run:' "$tmp/$name.log" >&2 || tail -20 "$tmp/$name.log" >&2
    fail "$name: ekconform run exited $rc"
  fi
  [ "$(jq '.cases | length' "$res")" = "$want" ] || fail "$name: $(jq '.cases | length' "$res") cases, expected $want"
  echo "lab mcu test: $name: $(jq -r '.summary | "\(.cases) cases: \(.pass) pass, \(.fail) fail, \(.not_applicable) not applicable, \(.error) error"' "$res") in $((SECONDS - t0)) s"
}

all_pass() { # every case of run $1 passed
  local res="$out/$1/latest/results.json"
  jq -e '[.cases[] | select(.verdict != "pass")] | length == 0' "$res" >/dev/null \
    || fail "$1: $(jq -r '[.cases[] | select(.verdict != "pass") | "\(.id): \(.verdict) \(.reason)"] | join("; ")' "$res")"
}

grants_and_emulator() { # CTL-IMG-2 grants and the reported emulator, from the engine's own view
  local res="$out/$1/latest/results.json"
  jq -e '[.cases[].nodes[] | select(.implementation == "mcu")] | length > 0 and all(.granted == ["NET_ADMIN", "/dev/net/tun"] and (.emulator // "" | startswith("qemu-system-arm ")) and (.emulator | endswith("-M mps2-an386")))' "$res" >/dev/null \
    || fail "$1: an mcu node was not granted exactly NET_ADMIN + /dev/net/tun or did not report qemu-system-arm mps2-an386: $(jq -c '[.cases[].nodes[] | select(.implementation == "mcu") | {name, granted, emulator}] | unique' "$res")"
  jq -e '[.cases[].nodes[] | select(.implementation != "mcu")] | all((.granted // []) == [] and .emulator == null)' "$res" >/dev/null \
    || fail "$1: a native node was granted something: $(jq -c '[.cases[].nodes[] | select(.implementation != "mcu") | select((.granted // []) != [])]' "$res")"
}

# 1. Mixed clusters.
run mixed 7 -s discovery,single-commit,concurrent-commits,gossip-reach --require-all --impls rust,go,c,mcu --mix rust+go+c+mcu,go+mcu -j 3
all_pass mixed
grants_and_emulator mixed

# 2. Restart with persistence.
run persist 2 -s restart-persist --impls rust,go,c,mcu --mix rust+go+c+mcu,mcu -j 2
all_pass persist
grants_and_emulator persist
jq -e '[.cases[].metrics.workload.restart_discovered_ms // [] | .[]] | length == 8' "$out/persist/latest/results.json" >/dev/null \
  || fail "persist: expected 8 restarts (4 per case), metrics say $(jq -c '[.cases[].metrics.workload.restart_discovered_ms]' "$out/persist/latest/results.json")"

ms=$(jq -rs '[.[].cases[].nodes[] | select(.implementation == "mcu") | .discovered_ms] | sort | "median \(.[length / 2 | floor]) ms, max \(.[-1]) ms over \(length) nodes"' "$out"/{mixed,persist}/latest/results.json)
echo "lab mcu test: mcu container (re)start to discovered by all: $ms"

# 4. Not applicable is reported as such (and is not a failure).
mkdir -p "$tmp/na"
cat >"$tmp/na/a.toml" <<'EOF'
name = "needs-kor-retx"
summary = "Requires a capability the mcu does not claim."
clauses = ["CTL-CAP-3"]
requires = ["roj", "kor", "ctl", "kor-retx"]
size = 2
timeout_s = 30

[[steps]]
do = "sleep"
ms = 10
EOF
run na 2 --scenario-dir "$tmp/na" --impls go,mcu --mix go,go+mcu -j 2
res="$out/na/latest/results.json"
[ "$(jq -r '[.cases[] | "\(.mix)=\(.verdict)"] | sort | join(" ")' "$res")" = "go+mcu=not-applicable go=pass" ] \
  || fail "na: expected go=pass and go+mcu=not-applicable, got $(jq -c '[.cases[] | {mix, verdict, reason}]' "$res")"
jq -e '.cases[] | select(.mix == "go+mcu") | .reason | test("mcu-1 does not claim capability `kor-retx`")' "$res" >/dev/null || fail "na: the reason does not name the missing capability"
grep -q 'skipped="1"' "$out/na/latest/junit.xml" || fail "na: junit.xml does not mark the case skipped"

# 5. Refusals before anything starts.
printf 'FROM ekconform/node-go:dev\nLABEL io.ekconform.managed=true io.ekconform.emulators=qemu io.ekconform.requires=net_admin,sys_admin\n' \
  | docker build -q -t "$evil" - >/dev/null 2>&1
if "$EKC" run --impl evil="$evil" -s single-commit --reports "$tmp/r" >"$tmp/evil.log" 2>&1; then fail "an image requiring sys_admin was run"; fi
grep -q 'sys_admin' "$tmp/evil.log" || fail "the refusal does not name sys_admin: $(cat "$tmp/evil.log")"
if "$EKC" run --impls mcu --emulator renode -s single-commit --reports "$tmp/r" >"$tmp/renode.log" 2>&1; then fail "an emulator the image does not have was accepted"; fi
grep -q 'emulator `renode` is not one this image runs' "$tmp/renode.log" || fail "the emulator refusal is unclear: $(cat "$tmp/renode.log")"
[ ! -e "$tmp/r" ] || [ -z "$(ls -A "$tmp/r")" ] || fail "a refused run wrote a report"
echo "lab mcu test: PASS"
