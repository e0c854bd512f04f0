#!/usr/bin/env python3
"""Probes an emulated MCU node from the host side of its TAP link (used by test-firmware.sh).

  probe.py icmp IP [--count N]      ICMP echo (raw socket, needs root); prints RTTs, fails on loss
  probe.py ctl IP PORT CMD          one control request (control.md CTL-WIRE-1/2) with retries;
                                    prints the response JSON, fails without an ok response
  probe.py wait-ctl IP PORT SECS    polls `ping` until answered; prints the seconds it took
  probe.py mdns-browse SECS         sends one `_roj._udp.local` PTR query, prints every instance
                                    named in answers for SECS seconds (JSON lines)
  probe.py rawsend IFACE DSTMAC N   sends N minimal Ethernet frames to DSTMAC (AF_PACKET, root)
"""
import json
import os
import socket
import struct
import sys
import time


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def icmp(ip: str, count: int) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.settimeout(1.0)
    ident = os.getpid() & 0xFFFF
    lost = 0
    for seq in range(1, count + 1):
        payload = struct.pack("!d", time.time()) + bytes(range(48))
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        pkt = struct.pack("!BBHHH", 8, 0, checksum(hdr + payload), ident, seq) + payload
        t0 = time.monotonic()
        sock.sendto(pkt, (ip, 0))
        ok = False
        while time.monotonic() - t0 < 1.0:
            try:
                data, addr = sock.recvfrom(2048)
            except socket.timeout:
                break
            ihl = (data[0] & 15) * 4
            t, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if addr[0] == ip and t == 0 and rid == ident and rseq == seq:
                if data[ihl + 8:] != payload or checksum(data[ihl:]) != 0:
                    print(f"icmp_seq={seq} corrupt reply", file=sys.stderr)
                    break
                print(f"icmp_seq={seq} rtt_ms={(time.monotonic() - t0) * 1000:.2f}")
                ok = True
                break
        lost += not ok
    print(f"icmp: {count - lost}/{count} replies")
    return 0 if lost == 0 else 1


def ctl(ip: str, port: int, cmd: str, args=None, timeout=2.0, req_id=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.2)
    req_id = req_id or (os.getpid() * 7 + int(time.time() * 1000)) % 4_000_000_000
    req = {"id": req_id, "cmd": cmd}
    if args:
        req["args"] = args
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.sendto(json.dumps(req).encode(), (ip, port))
        try:
            data, _ = sock.recvfrom(2048)
        except socket.timeout:
            continue
        resp = json.loads(data)
        if resp.get("id") == req_id:
            return resp
    return None


def mdns_browse(secs: float) -> int:
    q = struct.pack("!HHHHHH", 0, 0, 1, 0, 0, 0)
    for label in ("_roj", "_udp", "local"):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack("!HH", 12, 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("", 5353))
    mreq = struct.pack("4s4s", socket.inet_aton("224.0.0.251"), socket.inet_aton("0.0.0.0"))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    sock.sendto(q, ("224.0.0.251", 5353))
    sock.settimeout(0.2)
    seen = set()
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            data, addr = sock.recvfrom(9000)
        except socket.timeout:
            continue
        if len(data) < 12 or not (data[2] & 0x80):
            continue  # queries, ours included
        for name in instance_names(data):
            if (name, addr[0]) not in seen:
                seen.add((name, addr[0]))
                print(json.dumps({"instance": name, "from": addr[0]}), flush=True)
    return 0 if seen else 1


def read_name(data: bytes, off: int):
    labels, jumped, end = [], False, off
    for _ in range(64):
        n = data[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            off = ((n & 0x3F) << 8) | data[off + 1]
            jumped = True
            continue
        labels.append(data[off + 1:off + 1 + n].decode(errors="replace"))
        off += 1 + n
    return ".".join(labels), (end if jumped else off)


def instance_names(data: bytes):
    qd, an, ns, ar = struct.unpack("!HHHH", data[4:12])
    off = 12
    for _ in range(qd):
        _, off = read_name(data, off)
        off += 4
    out = []
    for _ in range(an + ns + ar):
        name, off = read_name(data, off)
        rtype, _, _, rdlen = struct.unpack("!HHIH", data[off:off + 10])
        off += 10
        if rtype == 12 and name.lower() == "_roj._udp.local":
            target, _ = read_name(data, off)
            out.append(target.split(".")[0])
        off += rdlen
    return out


def rawsend(iface: str, dst: str, n: int) -> int:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    src = bytes.fromhex(open(f"/sys/class/net/{iface}/address").read().strip().replace(":", ""))
    # EtherType 0x88B5 (IEEE local experimental): no stack on either side acts on it.
    frame = bytes.fromhex(dst.replace(":", "")) + src + b"\x88\xb5" + bytes(46)
    for _ in range(n):
        sock.send(frame)
    return 0


def main() -> int:
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == "icmp":
        count = int(a[3]) if len(a) >= 4 and a[2] == "--count" else 3
        return icmp(a[1], count)
    if len(a) == 4 and a[0] == "ctl":
        resp = ctl(a[1], int(a[2]), a[3])
        print(json.dumps(resp))
        return 0 if resp and resp.get("ok") else 1
    if len(a) == 4 and a[0] == "wait-ctl":
        t0 = time.monotonic()
        while time.monotonic() - t0 < float(a[3]):
            resp = ctl(a[1], int(a[2]), "ping", timeout=0.5)
            if resp and resp.get("ok"):
                print(f"{time.monotonic() - t0:.3f}")
                return 0
        print("no control ping answer", file=sys.stderr)
        return 1
    if len(a) == 4 and a[0] == "rawsend":
        return rawsend(a[1], a[2], int(a[3]))
    if len(a) == 2 and a[0] == "mdns-browse":
        return mdns_browse(float(a[1]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
