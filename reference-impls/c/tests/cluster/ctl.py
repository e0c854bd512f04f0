"""Minimal control-protocol client (control.md CTL-WIRE-1/2) used by the cluster test and bench."""
import json
import socket
import time

_next_id = [1]


def request(addr, cmd, args=None, timeout=1.0, retries=5, src_ip=""):
    """Sends one request and returns the decoded response; retries the same id (CTL-WIRE-4)."""
    req_id = _next_id[0]
    _next_id[0] += 1
    msg = {"id": req_id, "cmd": cmd}
    if args is not None:
        msg["args"] = args
    data = json.dumps(msg, separators=(",", ":")).encode()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src_ip, 0))
    s.settimeout(timeout / retries)
    try:
        for _ in range(retries):
            s.sendto(data, addr)
            try:
                while True:
                    resp, _src = s.recvfrom(2048)
                    obj = json.loads(resp)
                    if obj.get("id") == req_id:
                        return obj
            except socket.timeout:
                continue
    finally:
        s.close()
    raise TimeoutError(f"no answer from {addr} to {cmd}")


def wait_until(pred, timeout, what):
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
