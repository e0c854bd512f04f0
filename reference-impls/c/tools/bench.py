#!/usr/bin/env python3
"""Benchmark of the C node (`just bench-node-c`).

Starts a 5-node local cluster (127.0.0.2..6, real UDP, EKC_MDNS=0, EKC_PEERS), runs 1000
sequential proposals rotating the proposer over the five nodes, and reports:
  - commit latency p50/p99: PROPOSE sent -> COMMIT sent at the proposer (t(5) = 4 accepts), taken
    from the proposer's JSON log (`mono_us`, the host's monotonic clock);
  - apply latency p50/p99: PROPOSE sent -> the last of the five nodes applied the entry;
  - EK-ROJ messages per commit (ANNOUNCEs excluded) and EK-KOR frames per commit, from `stats`;
  - idle RSS of one node (VmRSS), and of the Go reference node in the same session if it is built;
  - the core's static memory and code size on Cortex-M4 (build/ekc-core-m4.elf).
"""
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "cluster"))
from ctl import request, wait_until  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build", "ekc-node"))
N = 5
PROPOSALS = int(os.environ.get("BENCH_PROPOSALS", "1000"))
IPS = [f"127.0.0.{i + 2}" for i in range(N)]


class Node:
    def __init__(self, i, binary, extra=None):
        env = {"EKC_NODE_ID": f"c-{i + 2}", "EKC_MODULE_ID": str(i + 2), "EKC_BIND_IP": IPS[i],
               "EKC_CTL_PORT": "9992", "EKC_MDNS": "0", "EKC_PEERS": ",".join(IPS),
               "EKC_ANNOUNCE_MS": "500", "EKC_ANTI_ENTROPY_MS": "1000", "EKC_TICK_MS": "10"}
        env.update(extra or {})
        self.proc = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)
        self.events = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("msg") in ("proposal sent", "commit sent", "commit applied", "commit seen (kept newer)"):
                if rec["msg"] == "commit seen (kept newer)":  # applied earlier through the bridge event
                    rec["msg"] = "commit applied"
                self.events.put(rec)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def idle_rss_of(binary, extra_env):
    """Starts one node alone, lets it idle 2 s, returns VmRSS in KiB."""
    env = {"EKC_NODE_ID": "idle-1", "EKC_MODULE_ID": "99", "EKC_BIND_IP": "127.0.0.9",
           "EKC_CTL_PORT": "9992", "EKC_MDNS": "0"}
    env.update(extra_env)
    p = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: request(("127.0.0.9", 9992), "ping")["ok"], 5, "idle node ping")
        time.sleep(2)
        return rss_kb(p.pid)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=3)


def main():
    nodes = [Node(i, BIN) for i in range(N)]
    try:
        def all_live():
            return all(len(request((ip, 9992), "peers")["result"]["live"]) == N for ip in IPS)
        wait_until(all_live, 15, "all five nodes live")
        # proposals are refused (`busy`) until each node completed its first anti-entropy exchange
        wait_until(lambda: request((IPS[0], 9992), "propose", {"key": "warm", "value": "0"})["ok"], 10, "warm-up")
        time.sleep(0.5)
        for n in nodes:
            while not n.events.empty():
                n.events.get()
        before = [request((ip, 9992), "stats")["result"] for ip in IPS]

        sent, committed, applied = {}, {}, {}
        t_start = time.monotonic()
        for k in range(PROPOSALS):
            i = k % N
            r = request((IPS[i], 9992), "propose", {"key": f"b{k % 10}", "value": str(k)})
            if not r["ok"]:
                raise SystemExit(f"proposal {k} refused: {r}")
            pid = r["result"]["pid"]
            deadline = time.monotonic() + 5
            while pid not in committed:
                if time.monotonic() > deadline:
                    raise SystemExit(f"no commit for {pid} within 5 s")
                try:
                    rec = nodes[i].events.get(timeout=0.5)
                except queue.Empty:
                    continue
                if rec["msg"] == "proposal sent":
                    sent[rec["pid"]] = rec["mono_us"]
                elif rec["msg"] == "commit sent":
                    committed[rec["pid"]] = rec["mono_us"]
                    applied.setdefault(rec["pid"], []).append(rec["mono_us"])
                elif rec["msg"] == "commit applied":
                    applied.setdefault(rec["pid"], []).append(rec["mono_us"])
        elapsed = time.monotonic() - t_start
        time.sleep(0.5)
        for j, n in enumerate(nodes):
            while not n.events.empty():
                rec = n.events.get()
                if rec["msg"] == "commit applied" or (rec["msg"] == "commit sent" and rec["pid"] not in committed):
                    applied.setdefault(rec["pid"], []).append(rec["mono_us"])
        after = [request((ip, 9992), "stats")["result"] for ip in IPS]

        lat = [(committed[p] - sent[p]) / 1000.0 for p in committed if p in sent]
        full = [(max(applied[p]) - sent[p]) / 1000.0 for p in committed if p in sent and len(applied.get(p, [])) == N]
        commits = len(committed)
        roj = sum((a["tx"]["roj"] - a["tx"]["roj_announce"]) - (b["tx"]["roj"] - b["tx"]["roj_announce"])
                  for a, b in zip(after, before))
        kor = sum(a["tx"]["kor"] - b["tx"]["kor"] for a, b in zip(after, before))
        states = [request((ip, 9992), "state")["result"]["kv_digest"] for ip in IPS]

        print(f"C node, {N}-node local cluster, {commits} sequential commits in {elapsed:.2f} s "
              f"({commits / elapsed:.0f} commits/s including the control round trip)")
        print(f"commit latency (PROPOSE sent -> COMMIT sent, proposer): p50 {statistics.median(lat):.3f} ms, "
              f"p99 {pct(lat, 99):.3f} ms, max {max(lat):.3f} ms")
        if full:
            print(f"apply latency (PROPOSE sent -> applied on all {N}): p50 {statistics.median(full):.3f} ms, "
                  f"p99 {pct(full, 99):.3f} ms ({len(full)} commits with all applies logged)")
        print(f"EK-ROJ messages per commit (ANNOUNCE excluded): {roj / commits:.2f} "
              f"(spec minimum 3(n-1) = {3 * (N - 1)})")
        print(f"EK-KOR frames per commit (bridge event gossip, acks, anti-entropy): {kor / commits:.2f}")
        print(f"final kv digests agree across the {N} nodes: {len(set(states)) == 1}")
    finally:
        for n in nodes:
            n.stop()

    rss_c = idle_rss_of(BIN, {})
    print(f"idle RSS, C node: {rss_c} KiB ({rss_c / 1024:.2f} MiB; target < 2 MiB)")
    go_bin = os.path.join(HERE, "..", "..", "go", "bin", "ekc-node-go")
    if os.path.exists(go_bin):
        rss_go = idle_rss_of(go_bin, {})
        print(f"idle RSS, Go node (comparator, same session): {rss_go} KiB; C/Go = {rss_c / rss_go:.2f}")
    static = os.path.abspath(os.path.join(HERE, "..", "build", "ekc-node-static"))
    if os.path.exists(static):
        print(f"idle RSS, C node static build: {idle_rss_of(static, {})} KiB")

    elf = os.path.join(HERE, "..", "build", "ekc-core-m4.elf")
    if os.path.exists(elf):
        out = subprocess.run(["arm-none-eabi-nm", "-S", "--size-sort", elf], capture_output=True, text=True).stdout
        sizes = {l.split()[3]: int(l.split()[1], 16) for l in out.splitlines() if len(l.split()) == 4}
        objs = sorted(os.path.join(HERE, "..", "build", "arm", f) for f in os.listdir(os.path.join(HERE, "..", "build", "arm")) if f.endswith(".o"))
        tot = subprocess.run(["arm-none-eabi-size", "-t"] + objs, capture_output=True, text=True).stdout.splitlines()[-1].split()
        print(f"Cortex-M4 (arm-none-eabi-gcc -Os, thumb, fpv4-sp-d16 hard): core .text {tot[0]} B, "
              f".data {tot[1]} B, .bss {tot[2]} B (the core has no static state)")
        print(f"  caller-owned state: ekc_node_t {sizes.get('node', '?')} B, ekc_mdns_t {sizes.get('mdns', '?')} B "
              f"(budget: 128 KiB SRAM, 512 KiB flash)")


if __name__ == "__main__":
    main()
