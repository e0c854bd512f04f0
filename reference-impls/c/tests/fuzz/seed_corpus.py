#!/usr/bin/env python3
"""Seeds the fuzz corpus from the golden vectors and a few control requests: first byte selects the
channel (0 ROJ, 1 KOR, 2 CTL), second byte advances time (see fuzz_node.c)."""
import hashlib
import json
import os
import sys

vec, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)


def put(chan, payload):
    data = bytes([chan, 5]) + payload
    with open(os.path.join(out, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


for v in json.load(open(os.path.join(vec, "roj-messages.json"))):
    put(0, bytes.fromhex(v["hex"]) if "hex" in v else v["raw"].encode())
for v in json.load(open(os.path.join(vec, "kor-frames.json"))):
    put(1, bytes.fromhex(v["hex"]))
for req in ['{"id":1,"cmd":"propose","args":{"key":"bay","value":"1"}}',
            '{"id":2,"cmd":"emit","args":{"event_type":2,"payload_hex":"0511111111111111111111111111111111111111"}}',
            '{"id":3,"cmd":"state"}', '{"id":4,"cmd":"log","args":{"origin":1,"from":1}}',
            '{"id":5,"cmd":"set_neighbours","args":{"modules":[2,3]}}', '{"id":6,"cmd":"fields"}']:
    put(2, req.encode())
