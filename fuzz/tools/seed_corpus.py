#!/usr/bin/env python3
"""Writes the fuzz seed corpora (fuzz/corpus/<target>/, git-ignored) from the golden vectors.

Every EK-ROJ vector seeds roj_judge and diff_roj, every EK-KOR vector seeds kor_frame and diff_kor,
one request per control command (control.md, CTL-CMD-1..13, valid and a few invalid) seeds
ctl_request, and hand-built mDNS packets (a PTR query for _roj._udp.local and a full
PTR+SRV+TXT+A response, RFC 6762/6763) seed c_mdns. vv_lww takes structured input (arbitrary) and
starts empty. Vectors from fuzz-findings.json seed their protocol's targets too. Files are named by
content hash, so re-running adds nothing twice.

Usage: seed_corpus.py VECTORS_DIR CORPUS_DIR
"""
import hashlib
import json
import os
import struct
import sys


def write(corpus, target, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, hashlib.sha1(data).hexdigest())
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        return 1
    return 0


def vector_bytes(v):
    return bytes.fromhex(v["hex"]) if "hex" in v else v["raw"].encode()


CTL_REQUESTS = [
    '{"id":1,"cmd":"ping"}',
    '{"id":2,"cmd":"caps","args":{}}',
    '{"id":3,"cmd":"peers"}',
    '{"id":4,"cmd":"propose","args":{"key":"bay","value":"1"}}',
    '{"id":5,"cmd":"emit","args":{"event_type":2,"payload_hex":"0511111111111111111111111111111111111111"}}',
    '{"id":6,"cmd":"state"}',
    '{"id":7,"cmd":"kv","args":{"offset":16}}',
    '{"id":8,"cmd":"fields","args":{"offset":0}}',
    '{"id":9,"cmd":"set_neighbours","args":{"modules":[2,3,5]}}',
    '{"id":10,"cmd":"stats"}',
    '{"id":11,"cmd":"set_clock_skew","args":{"offset_us":-250000}}',
    '{"id":12,"cmd":"log","args":{"origin":1,"from":1}}',
    '{"id":13,"cmd":"reboot"}',
    '{"id":4294967295,"cmd":"ping","args":{}}',
    '{"id":14,"cmd":"propose","args":{"key":"BAY","value":"1"}}',
    '{"id":15,"cmd":"emit","args":{"event_type":2,"payload_hex":"05"}}',
    '{"id":16,"cmd":"set_neighbours","args":{"modules":[0]}}',
    '{"id":1.0,"cmd":"ping"}',
    '{"cmd":"ping"}',
]


def dns_name(name):
    out = b""
    for label in name.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def rr(name, rtype, rdata, ttl=120, cls=0x8001):
    return dns_name(name) + struct.pack(">HHIH", rtype, cls, ttl, len(rdata)) + rdata


def mdns_packets():
    query = struct.pack(">HHHHHH", 0, 0, 1, 0, 0, 0) + dns_name("_roj._udp.local") + struct.pack(">HH", 12, 1)
    inst = "go-1._roj._udp.local"
    txt = b"".join(bytes([len(s)]) + s for s in [b"proto=1", b"node_id=go-1", b"module_id=2", b"kor_port=9991", b"ctl_port=9992", b"caps=abort"])
    answers = [
        rr("_roj._udp.local", 12, dns_name(inst), cls=1),
        rr(inst, 33, struct.pack(">HHH", 0, 0, 9990) + dns_name("go-1.local")),
        rr(inst, 16, txt),
        rr("go-1.local", 1, bytes([10, 0, 0, 2])),
    ]
    response = struct.pack(">HHHHHH", 0, 0x8400, 0, len(answers), 0, 0) + b"".join(answers)
    # A compressed SRV target pointing back into the packet (offset 12: the first name).
    compressed = struct.pack(">HHHHHH", 0, 0x8400, 0, 1, 0, 0) + rr("_roj._udp.local", 12, b"\x04go-2\xc0\x0c", cls=1)
    return [query, response, compressed]


def ipv4_udp(src, dst, sport, dport, payload, ident=1, frag=None):
    """An IPv4/UDP packet; frag=(offset_units, more, chunk) makes a fragment of an already built UDP body."""
    if frag is None:
        body = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
        off_flags = 0x4000
    else:
        off, more, body = frag
        off_flags = (0x2000 if more else 0) | off
    hdr = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(body), ident, off_flags, 64, 17, 0, bytes(src), bytes(dst))
    csum = sum(struct.unpack(">10H", hdr))
    csum = (csum & 0xFFFF) + (csum >> 16)
    csum = (csum & 0xFFFF) + (csum >> 16)
    return hdr[:10] + struct.pack(">H", ~csum & 0xFFFF) + hdr[12:] + body


def pcap(linktype, frames):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    for i, f in enumerate(frames):
        out += struct.pack("<IIII", 1_700_000_000 + i, 1000 * i, len(f), len(f)) + f
    return out


def pcapng(frames):
    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", 1, 0, 65535))
    for i, f in enumerate(frames):
        ts = (1_700_000_000 + i) * 1_000_000
        out += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(f), len(f)) + f)
    return out


def captures(roj, kor):
    a, b = [10, 0, 0, 2], [10, 0, 0, 3]
    eth = lambda p: b"\x02\0\0\0\0\x03" + b"\x02\0\0\0\0\x02" + b"\x08\x00" + p
    sll = lambda p: struct.pack(">HHH8sH", 0, 1, 6, b"\x02\0\0\0\0\x02\0\0", 0x0800) + p
    packets = [ipv4_udp(a, b, 9990, 9990, m) for m in roj[:40]]
    packets += [ipv4_udp(a, b, 9991, 9991, f) for f in kor[:40]]
    packets.append(ipv4_udp(a, b, 40000, 9992, b'{"id":1,"cmd":"ping"}'))
    big = max(roj, key=len)
    udp = struct.pack(">HHHH", 9990, 9990, 8 + len(big), 0) + big
    cut = (len(udp) // 2) // 8 * 8
    frags = [ipv4_udp(a, b, 0, 0, b"", ident=7, frag=(0, True, udp[:cut])),
             ipv4_udp(a, b, 0, 0, b"", ident=7, frag=(cut // 8, False, udp[cut:]))]
    return [pcap(1, [eth(p) for p in packets]), pcap(113, [sll(p) for p in packets[:20]]),
            pcapng([eth(p) for p in packets[:20] + frags]), pcap(1, [eth(p) for p in frags])]


def main():
    vectors, corpus = sys.argv[1], sys.argv[2]
    added = {}

    def add(target, data):
        added[target] = added.get(target, 0) + write(corpus, target, data)

    for v in json.load(open(os.path.join(vectors, "roj-messages.json"))):
        for t in ("roj_judge", "diff_roj"):
            add(t, vector_bytes(v))
        add("ctl_request", vector_bytes(v))
    for v in json.load(open(os.path.join(vectors, "kor-frames.json"))):
        for t in ("kor_frame", "diff_kor"):
            add(t, vector_bytes(v))
    findings = os.path.join(vectors, "fuzz-findings.json")
    if os.path.exists(findings):
        for v in json.load(open(findings)):
            targets = {"roj": ("roj_judge", "diff_roj"), "kor": ("kor_frame", "diff_kor"), "ctl": ("ctl_request",)}
            for t in targets[v["protocol"]]:
                add(t, vector_bytes(v))
    roj = [vector_bytes(v) for v in json.load(open(os.path.join(vectors, "roj-messages.json")))]
    kor = [vector_bytes(v) for v in json.load(open(os.path.join(vectors, "kor-frames.json")))]
    for capture in captures(roj, kor):
        add("pcap_ingest", capture)
    for req in CTL_REQUESTS:
        add("ctl_request", req.encode())
    for packet in mdns_packets():
        add("c_mdns", packet)
    os.makedirs(os.path.join(corpus, "vv_lww"), exist_ok=True)
    for t in sorted(added):
        print(f"corpus/{t}: {added[t]} new seed(s), {len(os.listdir(os.path.join(corpus, t)))} in total")


if __name__ == "__main__":
    main()
