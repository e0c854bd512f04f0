#!/usr/bin/env python3
"""Local 3-process test of the C node: real UDP on 127.0.0.2/3/4 with EKC_MDNS=0 and EKC_PEERS,
driven only through the control protocol (control.md). Checks membership/liveness, commits from
every node, a contended key, gossip of FIELD_PUBLISHED events, agreement of the final states
(CTL-CMD-6 digests), restart with EKC_STATE_DIR (CTL-PERSIST-1), SIGTERM within 2 s (CTL-IMG-3)
and clear configuration errors (CTL-IMG-1, CTL-ENV-16). Exits non-zero on any failure."""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl import request, wait_until  # noqa: E402

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/ekc-node")
IPS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if cond:
        print(f"ok   {what}")
    else:
        print(f"FAIL {what}")
        failures.append(what)


def start(i, logdir, extra=None):
    env = {
        "EKC_NODE_ID": f"c-{i + 2}",
        "EKC_MODULE_ID": str(i + 2),
        "EKC_BIND_IP": IPS[i],
        "EKC_CTL_PORT": "9992",
        "EKC_MDNS": "0",
        "EKC_PEERS": ",".join(IPS),
        "EKC_ANNOUNCE_MS": "200",
        "EKC_ANTI_ENTROPY_MS": "1000",
        "EKC_PROPOSAL_TIMEOUT_MS": "2000",
    }
    env.update(extra or {})
    log = open(os.path.join(logdir, f"c-{i + 2}.log"), "a")
    return subprocess.Popen([BIN], env=env, stdout=log, stderr=subprocess.STDOUT)


def ctl(i, cmd, args=None):
    return request((IPS[i], 9992), cmd, args)


def all_live():
    for i in range(3):
        r = ctl(i, "peers")["result"]
        if sorted(r["live"]) != ["c-2", "c-3", "c-4"]:
            return False
    return True


def stop(p):
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=2.0)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None
    return time.monotonic() - t0


def main():
    if not os.path.exists(BIN):
        print(f"FAIL: node binary {BIN} not built")
        return 1
    logdir = tempfile.mkdtemp(prefix="ekc-cluster-")
    statedir = tempfile.mkdtemp(prefix="ekc-state-")
    procs = []
    try:
        # configuration errors: non-zero exit, one clear line on stderr
        for bad_env, needle in [({"EKC_MODULE_ID": "1"}, "EKC_NODE_ID is required"),
                                ({"EKC_NODE_ID": "c-9", "EKC_MODULE_ID": "300"}, "EKC_MODULE_ID=300"),
                                ({"EKC_NODE_ID": "c-9", "EKC_MODULE_ID": "1", "EKC_MDNS": "yes"}, "EKC_MDNS=yes")]:
            r = subprocess.run([BIN], env=bad_env, capture_output=True, text=True, timeout=5)
            check(r.returncode != 0 and needle in r.stderr and r.stderr.count("\n") == 1,
                  f"bad configuration {bad_env} rejected: {r.stderr.strip()}")

        procs = [start(i, logdir, {"EKC_STATE_DIR": statedir} if i == 0 else None) for i in range(3)]
        wait_until(lambda: all(ctl(i, "ping")["ok"] for i in range(3)), 5, "ping from all nodes")
        check(True, "all three nodes answer ping (CTL-READY-1)")
        wait_until(all_live, 10, "every node lists every other as live")
        check(True, "every node lists the other two as live members (ROJ-ANN-4)")

        caps = ctl(0, "caps")["result"]
        check("persist" in caps["caps"] and "abort" in caps["caps"], f"caps of c-2: {caps['caps']}")

        # proposals from every node on distinct keys (busy until the first anti-entropy exchange)
        pids = []
        for i in range(3):
            r = wait_until(lambda: (lambda x: x if x["ok"] else None)(
                ctl(i, "propose", {"key": f"k{i}", "value": f"v{i}"})), 5, f"propose accepted on c-{i + 2}")
            pids.append(r["result"]["pid"])
        check(len(set(pids)) == 3, f"three distinct pids {pids}")
        # a contended key: two nodes propose different values concurrently
        a = ctl(0, "propose", {"key": "bay", "value": "a"})
        b = ctl(1, "propose", {"key": "bay", "value": "b"})
        check(a["ok"] or b["ok"], f"contended key: at least one proposal accepted ({a}, {b})")
        # gossip: each node publishes a field (`busy` until a node without persisted state has
        # caught up with its own history: CTL-PERSIST-2)
        for i in range(3):
            r = wait_until(lambda: (lambda x: None if x.get("error") == "busy" else x)(
                ctl(i, "emit", {"event_type": 2, "payload_hex": f"{i + 1:02x}" + f"{i + 7:02x}" * 19})), 5,
                f"emit accepted on c-{i + 2}")
            check(r["ok"] and r["result"]["origin_id"] == i + 2, f"emit on c-{i + 2}: {r}")

        def converged():
            states = [ctl(i, "state")["result"] for i in range(3)]
            keys = ("kv_digest", "log_digest", "fields_digest", "vv")
            same = all(all(s[k] == states[0][k] for k in keys) for s in states)
            done = all(s["pending"] == 0 and s["locks"] == 0 for s in states)
            return states if same and done and states[0]["kv_count"] >= 4 else None

        states = wait_until(converged, 20, "final states agree")
        check(True, f"final states agree: kv_count={states[0]['kv_count']} log_count={states[0]['log_count']} "
                    f"vv={states[0]['vv']} kv_digest={states[0]['kv_digest']}")
        kv = ctl(2, "kv", {"offset": 0})["result"]
        keys = {e["key"]: e["value"] for e in kv["entries"]}
        check(keys.get("k0") == "v0" and keys.get("k1") == "v1" and keys.get("k2") == "v2",
              f"committed values present on c-4: {keys}")
        check(keys.get("bay") in ("a", "b"), f"contended key has exactly one winner: {keys.get('bay')}")
        fields = ctl(1, "fields")["result"]
        check(fields["total"] == 3, f"three LWW registers on c-3 ({fields['total']})")

        # malformed input does not crash and is counted
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"{not json", (IPS[1], 9990))
        s.sendto(b"\x60" * 65, (IPS[1], 9991))
        time.sleep(0.3)
        st = ctl(1, "stats")["result"]
        check(st["invalid"].get("roj_json", 0) >= 1 and st["invalid"].get("kor_length", 0) >= 1,
              f"invalid input counted: {st['invalid']}")

        # restart of c-2 with its state directory: sequence continues (CTL-PERSIST-1)
        own_before = states[0]["vv"].get("2")
        dt = stop(procs[0])
        check(dt is not None and dt <= 2.0, f"SIGTERM stops the node within 2 s ({dt})")
        procs[0] = start(0, logdir, {"EKC_STATE_DIR": statedir})
        wait_until(lambda: ctl(0, "ping")["ok"], 5, "restarted c-2 answers ping")
        st0 = ctl(0, "state")["result"]
        check(st0["vv"] == states[0]["vv"], f"restarted c-2 reloaded its whole VV {states[0]['vv']} ({st0['vv']})")
        r = ctl(0, "emit", {"event_type": 0x80, "payload_hex": "00" * 20})
        check(r["ok"] and r["result"]["origin_seq"] == own_before + 1,
              f"restarted c-2 continues with origin_seq {own_before + 1}: {r}")
        wait_until(lambda: len({ctl(i, 'state')['result']['log_digest'] for i in range(3)}) == 1, 10,
                   "logs agree after restart")
        check(True, "logs agree after the restart")
    except (AssertionError, TimeoutError) as e:
        failures.append(str(e))
        print(f"FAIL {e}")
    finally:
        for p in procs:
            if p.poll() is None:
                stop(p)
    import shutil
    shutil.rmtree(statedir, ignore_errors=True)
    if failures:
        print(f"cluster test: {checks} checks, {len(failures)} failures (logs kept in {logdir})")
        return 1
    shutil.rmtree(logdir, ignore_errors=True)
    print(f"cluster test: {checks} checks, 0 failures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
