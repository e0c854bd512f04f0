"""Control-protocol client (docs/spec/control.md) for scripts and tests: one JSON request per UDP
datagram, retried with the same id (CTL-WIRE-4), plus a polling helper.

Usage as a command: python3 tools/ekctl.py IP[:PORT] CMD ['{"json":"args"}']
"""
import json
import socket
import sys
import time

_next_id = [1]


def request(addr, cmd, args=None, timeout=2.0, retries=10, busy_retries=50):
    """Sends `cmd` to `addr` (ip, port) and returns the decoded response object.

    A `busy` answer (CTL-PERSIST-2: a fresh node may not emit yet) is retried with a new id every
    100 ms, up to `busy_retries` times."""
    for _ in range(busy_retries):
        resp = _request_once(addr, cmd, args, timeout, retries)
        if resp.get("error") != "busy":
            return resp
        time.sleep(0.1)
    return resp


def _request_once(addr, cmd, args, timeout, retries):
    req_id = _next_id[0]
    _next_id[0] += 1
    msg = {"id": req_id, "cmd": cmd}
    if args is not None:
        msg["args"] = args
    data = json.dumps(msg, separators=(",", ":")).encode()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout / retries)
    try:
        for _ in range(retries):
            s.sendto(data, addr)
            try:
                while True:
                    resp, _ = s.recvfrom(4096)
                    obj = json.loads(resp)
                    if obj.get("id") == req_id:
                        return obj
            except socket.timeout:
                continue
    finally:
        s.close()
    raise TimeoutError(f"no answer from {addr[0]}:{addr[1]} to {cmd}")


def wait_until(pred, timeout, what):
    """Polls `pred` every 100 ms until it returns a truthy value; raises AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except TimeoutError as e:
            last = e
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last})")


def kv_all(addr):
    """All KV entries of a node, following `kv` pagination (CTL-CMD-7)."""
    entries, offset = [], 0
    while True:
        r = request(addr, "kv", {"offset": offset})["result"]
        entries += r["entries"]
        offset += len(r["entries"])
        if offset >= r["total"] or not r["entries"]:
            return entries


if __name__ == "__main__":
    host, _, port = sys.argv[1].partition(":")
    args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
    print(json.dumps(request((host, int(port or 9992)), sys.argv[2], args), indent=2))
