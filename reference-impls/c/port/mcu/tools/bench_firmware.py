#!/usr/bin/env python3
"""Measures the emulated MCU node (run by bench-firmware.sh inside the test namespace).

1. boot to answering control `ping`: QEMU start -> first answered ping, over N cold boots (median);
2. idle: host CPU of the qemu process (one core = 100 %) and the firmware's own busy fraction
   (time outside WFI, from its "mcu load" UART records) over a quiet window, plus the clock drift of
   the firmware's uptime against the host's monotonic clock over that window;
3. commit burst: single-node proposals back to back for a window (each PROPOSE commits at once with
   n = 1, emits the BRIDGE-1 event and persists it through semihosting): commits/s, qemu host CPU,
   firmware busy fraction; the same burst against the POSIX C node (same core, native) is the
   comparator, quoted as a ratio.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probe  # noqa: E402

MCU_IP = "10.213.0.2"
CMP_IP = "10.213.0.12"


def mkcfg(a, state):
    env = dict(os.environ, EKC_NODE_ID="mcu-b1", EKC_MODULE_ID="9", EKC_BIND_IP=MCU_IP,
               EKC_CTL_PORT="9992", EKC_MDNS="0", EKC_STATE_DIR=state)
    subprocess.run([a.mkcfg, f"{a.work}/cfg.bin"], env=env, check=True)


def start_qemu(a, log):
    return subprocess.Popen(
        ["qemu-system-arm", "-M", "mps2-an386", "-display", "none", "-monitor", "none",
         "-serial", f"file:{log}", "-semihosting-config", "enable=on,target=native",
         "-kernel", a.elf, "-device", f"loader,file={a.work}/cfg.bin,addr=0x7f800",
         "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
         "-net", "nic,netdev=n0,model=lan9118"], stderr=subprocess.DEVNULL)


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=5)


def wait_ping(ip, timeout=15.0, step=0.02):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        r = probe.ctl(ip, 9992, "ping", timeout=step)
        if r and r.get("ok"):
            return r
    raise SystemExit(f"bench: {ip} never answered ping")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_records(log):
    out = []
    with open(log) as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("msg") == "mcu load":
                out.append(rec)
    return out


def burst(ip, seconds):
    """Back-to-back proposals for `seconds`; returns (commits, elapsed)."""
    n = 0
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < seconds:
        r = probe.ctl(ip, 9992, "propose", {"key": f"k{i % 40}", "value": str(i % 10**8)}, timeout=2)
        i += 1
        if r and r.get("ok"):
            n += 1
        elif r and r.get("error") in ("locked", "capacity"):
            continue
        else:
            raise SystemExit(f"bench: propose failed: {r}")
    elapsed = time.monotonic() - t0
    deadline = time.monotonic() + 10
    while probe.ctl(ip, 9992, "state")["result"]["pending"] and time.monotonic() < deadline:
        time.sleep(0.05)
    return n, elapsed


def main():
    ap = argparse.ArgumentParser()
    for k in ("ns", "cmp-ns", "work", "elf", "mkcfg", "c-node"):
        ap.add_argument(f"--{k}", required=True)
    ap.add_argument("--boots", type=int, default=5)
    ap.add_argument("--window", type=float, default=10.0)
    a = ap.parse_args()
    state = f"{a.work}/bench-state"
    os.makedirs(state, exist_ok=True)

    # 1. boot to control ping
    times = []
    for i in range(a.boots):
        for f in os.listdir(state):
            os.remove(os.path.join(state, f))
        mkcfg(a, state)
        t0 = time.monotonic()
        p = start_qemu(a, f"{a.work}/boot{i}.log")
        wait_ping(MCU_IP)
        times.append(time.monotonic() - t0)
        stop(p)
    print(f"bench: boot to control ping: median {statistics.median(times) * 1000:.0f} ms "
          f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}, {a.boots} cold boots)")

    # 2. idle
    mkcfg(a, state)
    log = f"{a.work}/run.log"
    p = start_qemu(a, log)
    wait_ping(MCU_IP)
    time.sleep(1.0)
    h0, c0 = time.monotonic(), cpu_seconds(p.pid)
    u0 = probe.ctl(MCU_IP, 9992, "ping")["result"]["uptime_ms"]
    h0b = time.monotonic()
    time.sleep(a.window)
    h1 = time.monotonic()
    u1 = probe.ctl(MCU_IP, 9992, "ping")["result"]["uptime_ms"]
    h1b, c1 = time.monotonic(), cpu_seconds(p.pid)
    host_ms = ((h1 + h1b) / 2 - (h0 + h0b) / 2) * 1000
    drift_ppm = ((u1 - u0) - host_ms) / host_ms * 1e6
    idle_cpu = (c1 - c0) / (h1b - h0) * 100
    time.sleep(5.5)  # let the firmware close a 5 s load window that lies inside the quiet period
    recs = [r for r in load_records(log) if r["ts"] >= u0 and r["ts"] <= u1 + 1]
    busy_idle = [r["busy_permille"] / 10 for r in recs]
    print(f"bench: idle: qemu host CPU {idle_cpu:.1f}% of one core; firmware busy "
          f"{statistics.median(busy_idle) if busy_idle else float('nan'):.1f}% "
          f"(outside WFI, {len(busy_idle)} windows of 5 s); clock drift {drift_ppm:+.0f} ppm "
          f"over {host_ms / 1000:.1f} s")

    # 3. commit burst on the MCU
    b_u0 = probe.ctl(MCU_IP, 9992, "ping")["result"]["uptime_ms"]
    c0, t0 = cpu_seconds(p.pid), time.monotonic()
    n, el = burst(MCU_IP, a.window)
    c1, t1 = cpu_seconds(p.pid), time.monotonic()
    b_u1 = probe.ctl(MCU_IP, 9992, "ping")["result"]["uptime_ms"]
    mcu_rate = n / el
    time.sleep(0.2)
    recs = [r for r in load_records(log) if r["ts"] - r["window_ms"] >= b_u0 and r["ts"] <= b_u1]
    busy_burst = [r["busy_permille"] / 10 for r in recs]
    print(f"bench: commit burst on the MCU: {n} commits in {el:.1f} s = {mcu_rate:.0f} commits/s; "
          f"qemu host CPU {(c1 - c0) / (t1 - t0) * 100:.0f}%; firmware busy "
          f"{statistics.median(busy_burst) if busy_burst else float('nan'):.1f}% "
          f"({len(busy_burst)} windows)")
    peaks = [r.get("stack_peak", 0) for r in load_records(log)]
    if peaks:
        print(f"bench: main stack peak (painted stack, whole run incl. the burst): {max(peaks)} B of 8192 B")
    stop(p)

    # comparator: the POSIX C node, same core, same burst
    cmp_state = f"{a.work}/cmp-state"
    os.makedirs(cmp_state, exist_ok=True)
    env = dict(EKC_NODE_ID="c-b1", EKC_MODULE_ID="10", EKC_BIND_IP=CMP_IP, EKC_CTL_PORT="9992",
               EKC_MDNS="0", EKC_STATE_DIR=cmp_state, PATH=os.environ.get("PATH", ""))
    c = subprocess.Popen(["ip", "netns", "exec", a.cmp_ns, a.c_node], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ping(CMP_IP)
        n2, el2 = burst(CMP_IP, a.window)
    finally:
        c.terminate()
        c.wait(timeout=5)
    cmp_rate = n2 / el2
    print(f"bench: commit burst on the POSIX C node (comparator): {n2} commits in {el2:.1f} s = "
          f"{cmp_rate:.0f} commits/s; MCU/native ratio {mcu_rate / cmp_rate:.2f}")


if __name__ == "__main__":
    main()
