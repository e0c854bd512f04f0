#!/usr/bin/env python3
"""Command-line control client: ctl.py <ip> <cmd> [json-args] [--port N]. Prints the result
object as JSON and exits 0 if the node answered ok, 1 otherwise (control.md CTL-WIRE-2)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "cluster"))
from ctl import request  # noqa: E402


def main(argv):
    port = 9992
    if "--port" in argv:
        k = argv.index("--port")
        port = int(argv[k + 1])
        del argv[k:k + 2]
    if len(argv) < 3:
        print("usage: ctl.py <ip> <cmd> [json-args] [--port N]", file=sys.stderr)
        return 2
    args = json.loads(argv[3]) if len(argv) > 3 else None
    try:
        r = request((argv[1], port), argv[2], args, timeout=1.0)
    except TimeoutError as e:
        print(str(e), file=sys.stderr)
        return 1
    print(json.dumps(r.get("result", r), separators=(",", ":")))
    return 0 if r.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
