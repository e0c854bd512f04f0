#!/usr/bin/env bash
# Proves a conformance run leaves nothing behind when it is killed mid-way:
#  1. SIGKILL of the runner while its nodes are up: leftovers exist, `ekconform gc` removes them all.
#  2. SIGINT of the runner while its nodes are up: the runner itself tears everything down and
#     exits 130;
#  3. SIGINT, twice, during `certify`'s pre-check (of an image that never answers): the vendor
#     container, its network and its firewall rules are removed, exit 130.
# Objects are found by the creating process id label (io.ekconform.pid), so concurrent runs of
# other people are not touched. Fails loudly when Docker is unavailable.
set -euo pipefail
cd "$(dirname "$0")/../../.."
EKC="${EKC:-target/debug/ekconform}"
docker info >/dev/null 2>&1 || { echo "interrupt test: Docker is not available" >&2; exit 1; }
[ -x "$EKC" ] || { echo "interrupt test: $EKC is not built" >&2; exit 1; }
IMPL_ARGS=(--impls "${LAB_IMPLS:-rust}" -s single-commit --reports "$(mktemp -d)")

objects() { # number of containers + networks + volumes created by pid $1
  local c n v
  c=$(docker ps -aq --filter "label=io.ekconform.pid=$1" | wc -l)
  n=$(docker network ls -q --filter "label=io.ekconform.pid=$1" | wc -l)
  v=$(docker volume ls -q --filter "label=io.ekconform.pid=$1" | wc -l)
  echo $((c + n + v))
}

stale_rules() { # no firewall rule of a removed test bridge (multicast exception, host isolation)
  command -v iptables >/dev/null && [ "$(id -u)" = 0 ] || return 0
  # The lab's rules may live in the legacy tables, which `iptables-legacy` shows where it exists.
  local stale
  stale=$(for ipt in iptables iptables-legacy; do command -v "$ipt" >/dev/null || continue; for chain in DOCKER-USER INPUT; do "$ipt" -S "$chain" 2>/dev/null; done; done \
    | { grep -oE -- "-i ekc[0-9a-f]{8} " || true; } | while read -r _ br; do ip link show "$br" >/dev/null 2>&1 || echo "$br"; done | wc -l)
  [ "$stale" -eq 0 ] || { echo "interrupt test: $stale stale firewall rule(s) of removed test bridges" >&2; exit 1; }
}

wait_for_containers() { # until pid $1 has at least $2 running containers (up to 60 s)
  for _ in $(seq 1 600); do
    if [ "$(docker ps -q --filter "label=io.ekconform.pid=$1" | wc -l)" -ge "$2" ]; then return 0; fi
    kill -0 "$1" 2>/dev/null || { echo "interrupt test: process $1 exited before it had $2 containers" >&2; return 1; }
    sleep 0.1
  done
  echo "interrupt test: fewer than $2 containers of process $1 after 60 s" >&2
  return 1
}

expect_clean_130() { # process $1, interrupted during $2, exits 130 and leaves nothing behind
  local code=0 left
  wait "$1" || code=$?
  [ "$code" -eq 130 ] || { echo "interrupt test: exit $code after SIGINT $2 (expected 130)" >&2; exit 1; }
  left=$(objects "$1")
  [ "$left" -eq 0 ] || { echo "interrupt test: $left object(s) left after SIGINT $2" >&2; exit 1; }
  stale_rules
}

# 1. SIGKILL, then gc.
"$EKC" run "${IMPL_ARGS[@]}" >/dev/null 2>&1 &
pid=$!
wait_for_containers "$pid" 3
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
left=$(objects "$pid")
[ "$left" -gt 0 ] || { echo "interrupt test: expected leftovers after SIGKILL, found none" >&2; exit 1; }
"$EKC" gc --pid "$pid"   # scoped: objects of other runs (or engine leftovers) are not this test's
left=$(objects "$pid")
[ "$left" -eq 0 ] || { echo "interrupt test: $left object(s) of killed runner $pid survive gc" >&2; exit 1; }
echo "interrupt test: SIGKILL + gc: leftovers removed"

# 2. SIGINT: the runner cleans up by itself.
"$EKC" run "${IMPL_ARGS[@]}" >/dev/null 2>&1 &
pid=$!
wait_for_containers "$pid" 3
kill -INT "$pid"
expect_clean_130 "$pid" "of the runner"
echo "interrupt test: SIGINT: runner cleaned up and exited 130"

# 3. Two SIGINTs during certify's pre-check.
"$EKC" certify --image ekconform/netadmin:dev --precheck-only >/dev/null 2>&1 &
pid=$!
wait_for_containers "$pid" 1
kill -INT "$pid"; sleep 0.2; kill -INT "$pid" 2>/dev/null || true
expect_clean_130 "$pid" "in certify's pre-check"
echo "interrupt test: SIGINT x2 in certify's pre-check: cleaned up and exited 130"
