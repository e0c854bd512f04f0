#!/usr/bin/env python3
"""Minimal control-protocol client (control.md section 3) for the Go node's image checks.

Usage: ctl.py HOST CMD [ARGS_JSON] [--port N] [--timeout S]; prints the response's result as JSON,
exits 1 on an error response or no answer (the request is retried every 200 ms, CTL-WIRE-4)."""
import json, socket, sys, time, random

def main():
    argv = sys.argv[1:]
    port, timeout = 9992, 2.0
    if "--port" in argv:
        i = argv.index("--port"); port = int(argv[i + 1]); del argv[i:i + 2]
    if "--timeout" in argv:
        i = argv.index("--timeout"); timeout = float(argv[i + 1]); del argv[i:i + 2]
    host, cmd = argv[0], argv[1]
    req = {"id": random.randint(1, 2**31), "cmd": cmd}
    if len(argv) > 2:
        req["args"] = json.loads(argv[2])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    deadline = time.time() + timeout
    while time.time() < deadline:
        s.sendto(json.dumps(req).encode(), (host, port))
        try:
            resp = json.loads(s.recv(2048))
        except socket.timeout:
            continue
        if resp.get("id") != req["id"]:
            continue
        if not resp.get("ok"):
            print(json.dumps(resp)); sys.exit(1)
        print(json.dumps(resp["result"])); return
    print(f"no answer from {host}:{port} to {cmd}", file=sys.stderr); sys.exit(1)

main()
