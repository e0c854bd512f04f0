#!/usr/bin/env python3
"""Mixed-implementation cluster of local processes: Rust, Go and C reference nodes (two Rust, two
Go, one C: n = 5, t(n) = 4) on 127.0.0.x with static peers (EKC_MDNS=0, ROJ-DISC-4), driven only
through the control protocol. Proposals from every implementation must commit everywhere, a
contended key must end with one value on every node, gossip events from every implementation must
reach every node, and the final state digests (CTL-DIGEST-1..3) must be identical. No node may
count any datagram from another implementation as invalid.

Usage: test_mixed_local.py RUST_BIN GO_BIN C_BIN. Prints 'N passed, N failed'."""
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from ekctl import kv_all, request, wait_until  # noqa: E402

NODES = [  # (node_id, module_id, implementation)
    ("rust-1", 11, "rust"), ("go-1", 21, "go"), ("c-1", 31, "c"), ("rust-2", 12, "rust"), ("go-2", 22, "go"),
]
IPS = [f"127.0.5.{i + 2}" for i in range(len(NODES))]
CTL = 19992  # non-default ports so a node running elsewhere on this machine cannot interfere
results = []


def check(ok, what):
    results.append((bool(ok), what))
    print(("ok   " if ok else "FAIL ") + what, flush=True)


def addr(i):
    return (IPS[i], CTL)


def main():
    bins = dict(zip(["rust", "go", "c"], map(os.path.abspath, sys.argv[1:4])))
    procs = []
    with tempfile.TemporaryDirectory() as logs:
        try:
            for i, (node_id, module, impl) in enumerate(NODES):
                env = {"EKC_NODE_ID": node_id, "EKC_MODULE_ID": str(module), "EKC_BIND_IP": IPS[i],
                       "EKC_ROJ_PORT": "19990", "EKC_KOR_PORT": "19991", "EKC_CTL_PORT": str(CTL),
                       "EKC_MDNS": "0", "EKC_PEERS": ",".join(IPS), "EKC_ANNOUNCE_MS": "200",
                       "EKC_ANTI_ENTROPY_MS": "1000", "EKC_PROPOSAL_TIMEOUT_MS": "2000", "EKC_SEED": str(i + 1)}
                log = open(os.path.join(logs, node_id + ".log"), "w")
                procs.append(subprocess.Popen([bins[impl]], env=env, stdout=log, stderr=subprocess.STDOUT))
            ids = sorted(n[0] for n in NODES)
            wait_until(lambda: all(sorted(request(addr(i), "peers")["result"]["live"]) == ids
                                   for i in range(len(NODES))), 20, "every node to list every other as live")
            check(True, "all 5 nodes (rust, go, c) list each other as live members")

            for i, (node_id, _, impl) in enumerate(NODES):  # one commit proposed by each node
                r = request(addr(i), "propose", {"key": f"k{i}", "value": impl})
                check(r.get("ok"), f"{node_id} ({impl}) proposes k{i}: {r.get('error', '')}")
            want = {f"k{i}": impl for i, (_, _, impl) in enumerate(NODES)}
            try:
                wait_until(lambda: all({e["key"]: e["value"] for e in kv_all(addr(i))} == want
                                       for i in range(len(NODES))), 30, "every commit applied on every node")
                check(True, "every implementation's proposal committed and applied on all 5 nodes")
            except AssertionError as e:
                check(False, str(e))

            # Contended key: one proposal per implementation at once; at most one value per version.
            for i in (0, 1, 2):
                request(addr(i), "propose", {"key": "bay", "value": NODES[i][2]})
            try:
                final = wait_until(lambda: (lambda vs: vs[0] if len(set(map(str, vs))) == 1 and vs[0] else None)(
                    [next(((e["value"], e["version"]) for e in kv_all(addr(i)) if e["key"] == "bay"), None)
                     for i in range(len(NODES))]), 40, "the contended key to converge")
                check(True, f"contended key converged on all nodes to {final}")
            except AssertionError as e:
                check(False, str(e))

            for i, (node_id, module, impl) in enumerate(NODES):  # FIELD_PUBLISHED from each node
                payload = bytes([i]) + impl.encode().ljust(19, b"\0")
                r = request(addr(i), "emit", {"event_type": 2, "payload_hex": payload.hex()})
                check(r.get("ok") and r["result"]["origin_id"] == module, f"{node_id} emits an event")

            def digests():
                states = [request(addr(i), "state")["result"] for i in range(len(NODES))]
                keys = ("kv_digest", "log_digest", "fields_digest", "vv")
                first = [s[k] for k in keys for s in states[:1]]
                return states if all([s[k] for k in keys] == first for s in states) and \
                    states[0]["fields_count"] == len(NODES) else None
            try:
                states = wait_until(digests, 30, "identical state digests on all nodes")
                check(True, f"identical kv/log/fields digests and VV on all 5 nodes (vv={states[0]['vv']})")
            except AssertionError as e:
                check(False, str(e))

            for i, (node_id, _, impl) in enumerate(NODES):
                invalid = request(addr(i), "stats")["result"].get("invalid", {})
                bad = {k: v for k, v in invalid.items() if v}
                check(not bad, f"{node_id} ({impl}) counted no invalid datagram: {bad}")
        except Exception as e:  # report, never hide, an environment failure
            check(False, f"test aborted: {e!r}")
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    p.kill()
            if any(not ok for ok, _ in results):
                for f in sorted(os.listdir(logs)):
                    tail = open(os.path.join(logs, f)).read().splitlines()[-15:]
                    print(f"--- last lines of {f}:\n" + "\n".join(tail))
    failed = sum(1 for ok, _ in results if not ok)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
