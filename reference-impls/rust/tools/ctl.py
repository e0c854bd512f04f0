#!/usr/bin/env python3
"""Minimal control-protocol client (control.md CTL-WIRE-*): ctl.py IP CMD [ARGS_JSON] [--port P].

Prints the `result` object as JSON and exits 0, or prints the error and exits 1; re-sends the same
id every 200 ms (CTL-WIRE-4) for up to --timeout seconds.
"""
import argparse
import json
import socket
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("ip")
parser.add_argument("cmd")
parser.add_argument("args", nargs="?", default="{}")
parser.add_argument("--port", type=int, default=9992)
parser.add_argument("--timeout", type=float, default=2.0)
opts = parser.parse_args()

request = json.dumps({"id": int(time.time() * 1000) % 2**32, "cmd": opts.cmd, "args": json.loads(opts.args)}).encode()
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(0.2)
deadline = time.monotonic() + opts.timeout
while time.monotonic() < deadline:
    sock.sendto(request, (opts.ip, opts.port))
    try:
        data, _ = sock.recvfrom(2048)
    except (socket.timeout, ConnectionRefusedError):
        continue
    response = json.loads(data)
    if response.get("ok"):
        print(json.dumps(response["result"], sort_keys=True))
        sys.exit(0)
    print(json.dumps(response, sort_keys=True), file=sys.stderr)
    sys.exit(1)
print(f"no answer from {opts.ip}:{opts.port}", file=sys.stderr)
sys.exit(2)
