#!/usr/bin/env python3
"""Tests the Wireshark dissector (ekconform.lua) with tshark on a capture it writes itself.

Without arguments it also decodes a capture written by the suite's own code (the checkers' testkit:
a scripted 4-node execution with loss and duplication, built with `cargo run --example gen_capture`)
and checks that every UDP datagram on the EK ports is dissected. Given pcap path arguments, it
decodes those captures instead (for example lab captures) with the same check.
Prints 'N passed, N failed' and exits non-zero on any failure.
"""
import json, os, shutil, struct, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "ekconform.lua")


def ip_checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b)//2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(src, dst, sport, dport, payload):
    ip_src, ip_dst = bytes(map(int, src.split("."))), bytes(map(int, dst.split(".")))
    udp_len = 8 + len(payload)
    pseudo = ip_src + ip_dst + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    csum = ip_checksum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", csum) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 1, 0, 64, 17, 0, ip_src, ip_dst)
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    eth = bytes.fromhex("020000000002" "020000000001") + struct.pack("!H", 0x0800)
    return eth + ip + udp


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(fr), len(fr)))
            f.write(fr)


def event(origin, seq, etype, hop, flags=0, payload=b"\0" * 20, ts=1000):
    return struct.pack("<IIBBBBI", seq, ts, etype, flags, origin, hop, seq) + payload


def tshark_fields(pcap, fields):
    cmd = ["tshark", "-X", f"lua_script:{LUA}", "-r", pcap, "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if out.returncode != 0 or "Lua: Error" in out.stderr or "lua_error" in out.stderr.lower():
        raise AssertionError(f"tshark failed: {out.stderr.strip()}")
    return [line.split("|") for line in out.stdout.splitlines()]


def self_test():
    commit_payload = b"bay3".ljust(8, b"\0") + b"11000".ljust(8, b"\0") + struct.pack("<I", 4)
    propose = {"proto": 1, "type": "PROPOSE", "node_id": "rust-1", "payload": {
        "pid": "rust-1:5f3a09c2:7", "key": "bay3", "value": "11000", "version": 4,
        "members": ["c-1", "go-1", "rust-1"], "n": 3, "timeout_ms": 10000}}
    vote = {"proto": 1, "type": "VOTE", "node_id": "go-1",
            "payload": {"pid": "rust-1:5f3a09c2:7", "accept": True, "reason": "ok"}}
    frames = [
        udp_frame("10.1.0.2", "10.1.0.3", 40000, 9990, json.dumps(propose).encode()),
        udp_frame("10.1.0.3", "10.1.0.2", 40001, 9990, json.dumps(vote).encode()),
        udp_frame("10.1.0.2", "10.1.0.3", 40000, 9991,
                  bytes([0x60, 3, 1]) + bytes(7) + event(3, 9, 0x07, 0, payload=commit_payload)),
        udp_frame("10.1.0.3", "10.1.0.2", 40001, 9991, bytes([0x61, 5, 1, 3]) + struct.pack("<I", 9)),
        udp_frame("10.1.0.3", "10.1.0.2", 40001, 9991, bytes([0x62, 5, 3, 0]) + struct.pack("<II", 4, 8)),
        udp_frame("10.1.0.3", "10.1.0.2", 40001, 9991, bytes([0x63, 5, 1, 255, 2, 3]) + struct.pack("<I", 9)
                  + bytes([5]) + struct.pack("<I", 2)),
        udp_frame("10.1.0.3", "10.1.0.2", 40001, 9991, bytes([0x60, 5, 1]) + bytes(10)),  # truncated
        udp_frame("10.1.0.9", "10.1.0.2", 40002, 9990, b"{not json"),
        udp_frame("10.1.0.1", "10.1.0.2", 40003, 9992, b'{"id":7,"cmd":"state"}'),
    ]
    checks = []
    with tempfile.TemporaryDirectory() as d:
        pcap = os.path.join(d, "t.pcap")
        write_pcap(pcap, frames)
        rows = tshark_fields(pcap, ["frame.number", "ekroj.type", "ekroj.pid", "ekroj.threshold",
                                    "ekroj.accept", "ekkor.msg_type", "ekkor.event.origin_seq",
                                    "ekkor.result.key", "ekkor.result.version", "ekkor.ack.origin_seq",
                                    "ekkor.request.to_seq", "ekkor.sync.seq", "ekctl.cmd", "_ws.expert.message"])
        by = {int(r[0]): r for r in rows}
        checks += [
            ("PROPOSE type and pid", by[1][1] == "PROPOSE" and by[1][2] == "rust-1:5f3a09c2:7"),
            ("t(3) = 3 generated", by[1][3] == "3"),
            ("VOTE accept", by[2][1] == "VOTE" and by[2][4] in ("1", "True", "TRUE")),
            ("EVENT_GOSSIP decoded", by[3][5] == "0x60" and by[3][6] == "9"),
            ("CONSENSUS_RESULT payload", by[3][7] == "bay3" and by[3][8] == "4"),
            ("ACK entry", by[4][5] == "0x61" and by[4][9] == "9"),
            ("REQUEST range", by[5][5] == "0x62" and by[5][10] == "8"),
            ("VV_SYNC entries", by[6][5] == "0x63" and by[6][11] == "9,2"),
            ("truncated gossip flagged", "KOR-FRAME-3" in by[7][13]),
            ("malformed JSON flagged", "ROJ-WIRE-4" in by[8][13]),
            ("control request", by[9][12] == "state"),
        ]
    return checks


def real_capture_test(pcap):
    rows = tshark_fields(pcap, ["frame.number", "udp.dstport", "udp.srcport", "ekroj.type", "ekkor.msg_type", "ekctl.id"])
    ours = [r for r in rows if {r[1], r[2]} & {"9990", "9991", "9992"}]
    undissected = [r[0] for r in ours if not (r[3] or r[4] or r[5])]
    return [(f"{len(ours)} EK datagrams in {os.path.basename(pcap)} dissected", bool(ours) and not undissected)]


def suite_capture_test():
    """A capture written by the suite itself (checkers testkit), decoded end to end."""
    root = os.path.abspath(os.path.join(HERE, "..", ".."))
    with tempfile.TemporaryDirectory() as d:
        pcap = os.path.join(d, "suite-model.pcap")
        cmd = ["cargo", "run", "--quiet", "-p", "ekc-checkers", "--example", "gen_capture", "--",
               "--out", pcap, "--nodes", "4", "--seed", "3", "--proposals", "6", "--emissions", "10",
               "--loss", "0.05", "--dup", "0.05"]
        out = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=900)
        if out.returncode != 0 or not os.path.exists(pcap):
            return [("suite capture written by the checkers' testkit", False)], out.stderr.strip()
        checks = real_capture_test(pcap)
        rows = tshark_fields(pcap, ["ekroj.type", "ekkor.msg_type"])
        roj_types = {r[0] for r in rows if r[0]}
        kor_types = {r[1] for r in rows if r[1]}
        checks.append((f"suite capture has EK-ROJ {sorted(roj_types)}",
                       {"ANNOUNCE", "PROPOSE", "VOTE", "COMMIT"} <= roj_types))
        checks.append((f"suite capture has EK-KOR {sorted(kor_types)}", {"0x60", "0x61"} <= kor_types))
        return checks, ""


def main():
    if not shutil.which("tshark"):
        print("tshark is not installed (Debian package tshark): cannot test the dissector", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    if len(sys.argv) > 1:
        checks = [c for p in sys.argv[1:] for c in real_capture_test(p)]
    else:
        checks = self_test()
        suite, err = suite_capture_test()
        if err:
            print(err, file=sys.stderr)
        checks += suite
    failed = [name for name, ok in checks if not ok]
    for name, ok in checks:
        print(("ok   " if ok else "FAIL ") + name)
    print(f"{len(checks) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
