#!/usr/bin/env python3
"""Writes the golden vectors (vectors/*.json) from hand-written cases.

Every expectation below (verdict, clause, schema layer, decoded fields, orders, digests) is
written by hand or computed here in plain Python, independently of the Rust oracle, so the
oracle's golden-vector test is a real cross-check. Run from anywhere:

    python3 vectors/generate.py

The JSON files are the source of truth that other implementations consume; this script only
keeps them reproducible. See vectors/README.md for the format.
"""
import json
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
# Where the JSON files are written: vectors/ itself, or EKC_VECTORS_OUT (the freshness check writes
# to a scratch folder and compares, so committed vectors can never drift from this script).
OUT = os.environ.get("EKC_VECTORS_OUT", HERE)
SILENCE = {"port": None, "expect": "silence"}


def write(name, doc):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")


# ---------------------------------------------------------------------------------------------
# EK-ROJ messages
# ---------------------------------------------------------------------------------------------

ANNOUNCE = ('{"proto":1,"type":"ANNOUNCE","node_id":"rust-1","payload":{"module_id":3,"lang":"rust",'
            '"version":"0.1.0","caps":["roj","kor","ctl","abort"],"incarnation":2864434397,"seq":17,'
            '"members":["c-1","go-1","rust-1"],"kor_port":9991,"ctl_port":9992}}')
PROPOSE = ('{"proto":1,"type":"PROPOSE","node_id":"rust-1","payload":{"pid":"rust-1:5f3a09c2:7",'
           '"key":"bay3","value":"11000","version":4,"members":["c-1","go-1","rust-1"],"n":3,'
           '"timeout_ms":10000}}')
VOTE = ('{"proto":1,"type":"VOTE","node_id":"go-1","payload":{"pid":"rust-1:5f3a09c2:7",'
        '"accept":true,"reason":"ok"}}')
COMMIT = ('{"proto":1,"type":"COMMIT","node_id":"rust-1","payload":{"pid":"rust-1:5f3a09c2:7",'
          '"key":"bay3","value":"11000","version":4,"n":3,"voters":["c-1","go-1","rust-1"]}}')
ABORT = ('{"proto":1,"type":"ABORT","node_id":"rust-1","payload":{"pid":"rust-1:5f3a09c2:7",'
         '"reason":"rejected"}}')

roj = []


def case(id_, clause, verdict, layer, description, raw=None, raw_bytes=None):
    """layer: what an independent draft-7 validator of roj-message.json says.
    "schema": the schema alone decides the verdict (valid vectors validate, invalid ones fail);
    "oracle": the document is schema-valid and only rules beyond the schema reject it;
    "wire": the datagram is not a JSON document at all (the schema does not apply)."""
    v = {"id": id_, "clause": clause, "verdict": verdict, "layer": layer, "description": description}
    if raw_bytes is not None:
        try:
            v["raw"] = raw_bytes.decode("utf-8")
            if v["raw"].encode("utf-8") != raw_bytes:
                raise UnicodeError
        except UnicodeError:
            v.pop("raw", None)
        v["hex"] = raw_bytes.hex()
    else:
        v["raw"] = raw
    v["replay"] = {"port": "roj", "expect": "silence" if verdict == "invalid" else "alive"}
    roj.append(v)


def sub(base, old, new, count=1):
    assert base.count(old) >= count, (old, base)
    return base.replace(old, new, count)


def valid(id_, clause, description, raw):
    case(id_, clause, "valid", "schema", description, raw)


def bad(id_, clause, layer, description, raw=None, raw_bytes=None):
    case(id_, clause, "invalid", layer, description, raw, raw_bytes)


# --- valid -----------------------------------------------------------------------------------
valid("roj-valid-announce", "ROJ-ANN-1", "the spec's ANNOUNCE example", ANNOUNCE)
valid("roj-valid-propose", "ROJ-PROP-1", "the spec's PROPOSE example", PROPOSE)
valid("roj-valid-vote", "ROJ-VOTE-7", "the spec's VOTE example", VOTE)
valid("roj-valid-commit", "ROJ-COMMIT-2", "the spec's COMMIT example (3 voters = t(3))", COMMIT)
valid("roj-valid-abort", "ROJ-ABORT-2", "the spec's ABORT example", ABORT)
valid("roj-valid-abort-timeout", "ROJ-ABORT-2", "ABORT with reason timeout", sub(ABORT, '"rejected"', '"timeout"'))
for r in ["membership", "stale", "locked", "capacity"]:
    valid(f"roj-valid-vote-reject-{r}", "ROJ-VOTE-7", f"a reject with reason {r}",
          sub(VOTE, '"accept":true,"reason":"ok"', f'"accept":false,"reason":"{r}"'))
valid("roj-valid-whitespace", "ROJ-WIRE-1", "insignificant whitespace everywhere",
      json.dumps(json.loads(PROPOSE), indent=2))
valid("roj-valid-member-order", "ROJ-ENV-1", "envelope members in another order (order is not significant)",
      '{"payload":{"reason":"ok","accept":true,"pid":"rust-1:5f3a09c2:7"},"node_id":"go-1","type":"VOTE","proto":1}')
valid("roj-valid-escapes", "ROJ-WIRE-1", "string escapes decode to a valid key and node_id",
      sub(sub(PROPOSE, '"key":"bay3"', '"key":"\\u0062ay3"'), '"node_id":"rust-1"', '"node_id":"rust\\u002d1"'))
valid("roj-valid-propose-32-members", "ROJ-PROP-4", "the largest membership: 32 members, n = 32",
      sub(sub(PROPOSE, '"members":["c-1","go-1","rust-1"]', '"members":' + json.dumps(sorted([f"n{i:02d}" for i in range(31)] + ["rust-1"]), separators=(",", ":"))), '"n":3', '"n":32'))
valid("roj-valid-commit-22-of-32", "ROJ-COMMIT-2", "22 voters for n = 32 (t(32) = 22)",
      sub(sub(COMMIT, '"voters":["c-1","go-1","rust-1"]', '"voters":' + json.dumps(sorted([f"n{i:02d}" for i in range(21)] + ["rust-1"]), separators=(",", ":"))), '"n":3', '"n":32'))
valid("roj-valid-empty-value", "ROJ-PROP-2", "value may be empty", sub(PROPOSE, '"value":"11000"', '"value":""'))
valid("roj-valid-max-key-value", "ROJ-PROP-2", "key and value of 8 characters using every allowed symbol",
      sub(sub(PROPOSE, '"key":"bay3"', '"key":"a_.-09zz"'), '"value":"11000"', '"value":"Az09_.:+"'))
valid("roj-valid-value-minus", "ROJ-PROP-2", "value with a minus sign", sub(PROPOSE, '"value":"11000"', '"value":"-5"'))
valid("roj-valid-node-id-16", "ROJ-ENV-4", "node_id of 16 characters",
      sub(VOTE, '"node_id":"go-1"', '"node_id":"abcdefghij-12345"'))
valid("roj-valid-node-id-1", "ROJ-ENV-4", "node_id of 1 character", sub(VOTE, '"node_id":"go-1"', '"node_id":"0"'))
valid("roj-valid-pid-max-counter", "ROJ-PROP-1", "pid counter 4294967295 (2^32-1)",
      sub(VOTE, "rust-1:5f3a09c2:7", "rust-1:5f3a09c2:4294967295"))
valid("roj-valid-pid-zero-incarnation", "ROJ-PROP-1", "pid incarnation 00000000",
      sub(VOTE, "rust-1:5f3a09c2:7", "rust-1:00000000:1"))
valid("roj-valid-version-max", "ROJ-PROP-3", "version 2^32-1", sub(PROPOSE, '"version":4', '"version":4294967295'))
valid("roj-valid-timeout-min", "ROJ-PROP-5", "timeout_ms 100", sub(PROPOSE, '"timeout_ms":10000', '"timeout_ms":100'))
valid("roj-valid-timeout-max", "ROJ-PROP-5", "timeout_ms 60000", sub(PROPOSE, '"timeout_ms":10000', '"timeout_ms":60000'))
valid("roj-valid-propose-single", "ROJ-PROP-4", "a one-member cluster",
      sub(sub(PROPOSE, '"members":["c-1","go-1","rust-1"]', '"members":["rust-1"]'), '"n":3', '"n":1'))
members32 = sorted([f"n{i:02d}" for i in range(31)] + ["rust-1"])
valid("roj-valid-propose-32", "ROJ-PROP-4", "32 members, n = 32",
      sub(sub(PROPOSE, '"members":["c-1","go-1","rust-1"]', '"members":' + json.dumps(members32, separators=(",", ":"))),
          '"n":3', '"n":32'))
valid("roj-valid-commit-single", "ROJ-COMMIT-2", "n = 1, t(1) = 1 voter",
      sub(sub(COMMIT, '"voters":["c-1","go-1","rust-1"]', '"voters":["rust-1"]'), '"n":3', '"n":1'))
valid("roj-valid-commit-t4", "ROJ-COMMIT-2", "n = 4 with t(4) = 3 voters",
      sub(COMMIT, '"n":3', '"n":4'))
voters22 = sorted([f"n{i:02d}" for i in range(21)] + ["rust-1"])
valid("roj-valid-commit-t32", "ROJ-COMMIT-2", "n = 32 with exactly t(32) = 22 voters",
      sub(sub(COMMIT, '"voters":["c-1","go-1","rust-1"]', '"voters":' + json.dumps(voters22, separators=(",", ":"))),
          '"n":3', '"n":32'))
valid("roj-valid-announce-min", "ROJ-ANN-1", "ANNOUNCE at the low bounds: no caps, seq 0, incarnation 0, ports 1",
      sub(sub(sub(sub(sub(ANNOUNCE, '"caps":["roj","kor","ctl","abort"]', '"caps":[]'), '"seq":17', '"seq":0'),
                  '"incarnation":2864434397', '"incarnation":0'), '"kor_port":9991', '"kor_port":1'),
          '"ctl_port":9992', '"ctl_port":1'))
valid("roj-valid-announce-max", "ROJ-ANN-1", "ANNOUNCE at the high bounds: module 255, seq and incarnation 2^32-1, ports 65535",
      sub(sub(sub(sub(sub(ANNOUNCE, '"module_id":3', '"module_id":255'), '"seq":17', '"seq":4294967295'),
                  '"incarnation":2864434397', '"incarnation":4294967295'), '"kor_port":9991', '"kor_port":65535'),
          '"ctl_port":9992', '"ctl_port":65535'))
valid("roj-valid-announce-alone", "ROJ-ANN-2", "a node that knows only itself",
      sub(ANNOUNCE, '"members":["c-1","go-1","rust-1"]', '"members":["rust-1"]'))
valid("roj-valid-announce-semver", "ROJ-ANN-1", "semver with pre-release and build metadata",
      sub(ANNOUNCE, '"version":"0.1.0"', '"version":"1.2.3-rc.1+build.5"'))
valid("roj-valid-vote-other-proposer", "ROJ-VOTE-1", "a VOTE's pid names the proposer, not the voter",
      sub(VOTE, '"node_id":"go-1"', '"node_id":"c-1"'))
padded_1400 = ANNOUNCE[:-1] + " " * (1400 - len(ANNOUNCE)) + "}"
valid("roj-valid-size-1400", "ROJ-WIRE-2", "a datagram of exactly 1400 bytes (whitespace padding)", padded_1400)

# --- ROJ-WIRE-1 / 2 / 5 ------------------------------------------------------------------------
bad("roj-wire1-empty", "ROJ-WIRE-1", "wire", "empty datagram", raw="")
bad("roj-wire1-truncated", "ROJ-WIRE-1", "wire", "truncated JSON", raw=VOTE[:-5])
bad("roj-wire1-not-json", "ROJ-WIRE-1", "wire", "plain text", raw="hello")
bad("roj-wire1-trailing", "ROJ-WIRE-1", "wire", "a valid object followed by garbage", raw=VOTE + "x")
bad("roj-wire1-two-objects", "ROJ-WIRE-1", "wire", "two objects in one datagram", raw=VOTE + VOTE)
bad("roj-wire1-bom", "ROJ-WIRE-1", "wire", "UTF-8 byte-order mark before the object",
    raw_bytes=b"\xef\xbb\xbf" + VOTE.encode())
bad("roj-wire1-invalid-utf8", "ROJ-WIRE-1", "wire", "invalid UTF-8 inside a string",
    raw_bytes=VOTE.replace('"go-1"', '"go-\xff"').encode("latin-1"))
bad("roj-wire1-array", "ROJ-WIRE-1", "schema", "top level is an array", raw="[" + VOTE + "]")
bad("roj-wire1-string", "ROJ-WIRE-1", "schema", "top level is a string", raw='"VOTE"')
bad("roj-wire1-null", "ROJ-WIRE-1", "schema", "top level is null", raw="null")
bad("roj-wire1-single-quotes", "ROJ-WIRE-1", "wire", "single-quoted strings are not JSON", raw=VOTE.replace('"', "'"))
bad("roj-wire1-trailing-comma", "ROJ-WIRE-1", "wire", "trailing comma", raw=VOTE[:-2] + ",}}")
bad("roj-wire2-1401", "ROJ-WIRE-2", "oracle", "1401 bytes: otherwise valid, one byte over the limit",
    raw=ANNOUNCE[:-1] + " " * (1401 - len(ANNOUNCE)) + "}")
bad("roj-wire2-huge", "ROJ-WIRE-2", "oracle", "4000 bytes of padding",
    raw=VOTE[:-1] + " " * 4000 + "}")
bad("roj-wire5-dup-type", "ROJ-WIRE-5", "oracle", "duplicate member name at the top level",
    raw=sub(VOTE, '"type":"VOTE"', '"type":"VOTE","type":"VOTE"'))
bad("roj-wire5-dup-payload", "ROJ-WIRE-5", "oracle", "duplicate member name in the payload",
    raw=sub(PROPOSE, '"key":"bay3"', '"key":"bay3","key":"bay3"'))
bad("roj-wire5-dup-differs", "ROJ-WIRE-5", "oracle", "duplicate member with different values (last-wins parsers would see ok)",
    raw=sub(VOTE, '"reason":"ok"', '"reason":"stale","reason":"ok"'))
bad("roj-wire5-proto-fraction", "ROJ-WIRE-5", "oracle", "proto written 1.0", raw=sub(VOTE, '"proto":1', '"proto":1.0'))
bad("roj-wire5-proto-exponent", "ROJ-WIRE-5", "oracle", "proto written 1e0", raw=sub(VOTE, '"proto":1', '"proto":1e0'))
bad("roj-wire5-version-fraction", "ROJ-WIRE-5", "oracle", "version written 4.0", raw=sub(PROPOSE, '"version":4', '"version":4.0'))
bad("roj-wire5-n-exponent", "ROJ-WIRE-5", "oracle", "n written 3E0", raw=sub(PROPOSE, '"n":3', '"n":3E0'))
bad("roj-wire5-timeout-exponent", "ROJ-WIRE-5", "oracle", "timeout_ms written 1e4", raw=sub(PROPOSE, '"timeout_ms":10000', '"timeout_ms":1e4'))
bad("roj-wire5-seq-fraction", "ROJ-WIRE-5", "oracle", "ANNOUNCE seq written 17.00", raw=sub(ANNOUNCE, '"seq":17', '"seq":17.00'))
bad("roj-wire5-port-exponent", "ROJ-WIRE-5", "oracle", "kor_port written 9.991e3", raw=sub(ANNOUNCE, '"kor_port":9991', '"kor_port":9.991e3'))
bad("roj-wire5-commit-version", "ROJ-WIRE-5", "oracle", "COMMIT version written 4e+0", raw=sub(COMMIT, '"version":4', '"version":4e+0'))

# --- ROJ-ENV ---------------------------------------------------------------------------------
bad("roj-env1-missing-proto", "ROJ-ENV-1", "schema", "no proto member", raw=sub(VOTE, '"proto":1,', ''))
bad("roj-env1-missing-node-id", "ROJ-ENV-1", "schema", "no node_id member", raw=sub(VOTE, '"node_id":"go-1",', ''))
bad("roj-env1-missing-payload", "ROJ-ENV-1", "schema", "no payload member",
    raw='{"proto":1,"type":"VOTE","node_id":"go-1"}')
bad("roj-env1-missing-type", "ROJ-ENV-1", "schema", "no type member", raw=sub(VOTE, '"type":"VOTE",', ''))
bad("roj-env1-extra", "ROJ-ENV-1", "schema", "an extra top-level member", raw=sub(VOTE, '"proto":1,', '"proto":1,"ts":5,'))
bad("roj-env2-proto-2", "ROJ-ENV-2", "schema", "proto 2", raw=sub(VOTE, '"proto":1', '"proto":2'))
bad("roj-env2-proto-0", "ROJ-ENV-2", "schema", "proto 0", raw=sub(VOTE, '"proto":1', '"proto":0'))
bad("roj-env2-proto-string", "ROJ-ENV-2", "schema", 'proto "1" (a string)', raw=sub(VOTE, '"proto":1', '"proto":"1"'))
bad("roj-env2-proto-null", "ROJ-ENV-2", "schema", "proto null", raw=sub(VOTE, '"proto":1', '"proto":null'))
bad("roj-env2-proto-true", "ROJ-ENV-2", "schema", "proto true", raw=sub(VOTE, '"proto":1', '"proto":true'))
bad("roj-env3-unknown", "ROJ-ENV-3", "schema", "type PREPARE", raw=sub(VOTE, '"type":"VOTE"', '"type":"PREPARE"'))
bad("roj-env3-lowercase", "ROJ-ENV-3", "schema", "type in lower case", raw=sub(VOTE, '"type":"VOTE"', '"type":"vote"'))
bad("roj-env3-number", "ROJ-ENV-3", "schema", "type is a number", raw=sub(VOTE, '"type":"VOTE"', '"type":3'))
bad("roj-env4-uppercase", "ROJ-ENV-4", "schema", "node_id with upper case", raw=sub(VOTE, '"node_id":"go-1"', '"node_id":"Go-1"'))
bad("roj-env4-empty", "ROJ-ENV-4", "schema", "empty node_id", raw=sub(VOTE, '"node_id":"go-1"', '"node_id":""'))
bad("roj-env4-17", "ROJ-ENV-4", "schema", "node_id of 17 characters", raw=sub(VOTE, '"node_id":"go-1"', '"node_id":"abcdefghij-123456"'))
bad("roj-env4-leading-dash", "ROJ-ENV-4", "schema", "node_id starting with a dash", raw=sub(VOTE, '"node_id":"go-1"', '"node_id":"-go1"'))
bad("roj-env4-underscore", "ROJ-ENV-4", "schema", "node_id with an underscore", raw=sub(VOTE, '"node_id":"go-1"', '"node_id":"go_1"'))
bad("roj-env4-number", "ROJ-ENV-4", "schema", "node_id is a number", raw=sub(VOTE, '"node_id":"go-1"', '"node_id":7'))
bad("roj-env4-newline", "ROJ-ENV-4", "schema", "node_id ending in an escaped newline (a $ that matches before a final newline would let it through)",
    raw=sub(VOTE, '"node_id":"go-1"', '"node_id":"go-1\\n"'))
bad("roj-env5-array", "ROJ-ENV-5", "schema", "payload is an array", raw='{"proto":1,"type":"VOTE","node_id":"go-1","payload":[]}')
bad("roj-env5-null", "ROJ-ENV-5", "schema", "payload is null", raw='{"proto":1,"type":"VOTE","node_id":"go-1","payload":null}')
bad("roj-env5-string", "ROJ-ENV-5", "schema", "payload is a string", raw='{"proto":1,"type":"VOTE","node_id":"go-1","payload":"ok"}')
for name, base in [("announce", ANNOUNCE), ("propose", PROPOSE), ("vote", VOTE), ("commit", COMMIT), ("abort", ABORT)]:
    bad(f"roj-env5-extra-{name}", "ROJ-ENV-5", "schema", f"an extra payload member in {name.upper()}",
        raw=base[:-2] + ',"extra":1}}')

# --- ANNOUNCE ----------------------------------------------------------------------------------
A = lambda old, new: sub(ANNOUNCE, old, new)
bad("roj-ann1-module-0", "ROJ-ANN-1", "schema", "module_id 0", raw=A('"module_id":3', '"module_id":0'))
bad("roj-ann1-module-256", "ROJ-ANN-1", "schema", "module_id 256", raw=A('"module_id":3', '"module_id":256'))
bad("roj-ann1-lang-upper", "ROJ-ANN-1", "schema", "lang with upper case", raw=A('"lang":"rust"', '"lang":"Rust"'))
bad("roj-ann1-lang-empty", "ROJ-ANN-1", "schema", "empty lang", raw=A('"lang":"rust"', '"lang":""'))
bad("roj-ann1-version-not-semver", "ROJ-ANN-1", "schema", "version 1.0 is not semver", raw=A('"version":"0.1.0"', '"version":"1.0"'))
bad("roj-ann1-version-leading-zero", "ROJ-ANN-1", "schema", "version 01.0.0", raw=A('"version":"0.1.0"', '"version":"01.0.0"'))
bad("roj-ann1-caps-dup", "ROJ-ANN-1", "schema", "duplicate capability", raw=A('"caps":["roj","kor","ctl","abort"]', '"caps":["roj","roj"]'))
bad("roj-ann1-caps-17", "ROJ-ANN-1", "schema", "17 capabilities",
    raw=A('"caps":["roj","kor","ctl","abort"]', '"caps":' + json.dumps([f"c{i}" for i in range(17)], separators=(",", ":"))))
bad("roj-ann1-caps-bad", "ROJ-ANN-1", "schema", "capability with a space", raw=A('"caps":["roj","kor","ctl","abort"]', '"caps":["roj kor"]'))
bad("roj-ann1-incarnation-big", "ROJ-ANN-1", "schema", "incarnation 2^32", raw=A('"incarnation":2864434397', '"incarnation":4294967296'))
bad("roj-ann1-seq-negative", "ROJ-ANN-1", "schema", "seq -1", raw=A('"seq":17', '"seq":-1'))
bad("roj-ann1-members-unsorted", "ROJ-ANN-1", "oracle", "members not sorted", raw=A('"members":["c-1","go-1","rust-1"]', '"members":["go-1","c-1","rust-1"]'))
bad("roj-ann1-members-dup", "ROJ-ANN-1", "schema", "members with a duplicate", raw=A('"members":["c-1","go-1","rust-1"]', '"members":["c-1","rust-1","rust-1"]'))
bad("roj-ann1-members-empty", "ROJ-ANN-1", "schema", "members empty", raw=A('"members":["c-1","go-1","rust-1"]', '"members":[]'))
bad("roj-ann1-members-33", "ROJ-ANN-1", "schema", "33 members",
    raw=A('"members":["c-1","go-1","rust-1"]', '"members":' + json.dumps(sorted([f"n{i:02d}" for i in range(32)] + ["rust-1"]), separators=(",", ":"))))
bad("roj-ann1-kor-port-0", "ROJ-ANN-1", "schema", "kor_port 0", raw=A('"kor_port":9991', '"kor_port":0'))
bad("roj-ann1-ctl-port-big", "ROJ-ANN-1", "schema", "ctl_port 65536", raw=A('"ctl_port":9992', '"ctl_port":65536'))
bad("roj-ann1-missing-seq", "ROJ-ANN-1", "schema", "seq missing", raw=A('"seq":17,', ''))
bad("roj-ann1-byte-order", "ROJ-ANN-1", "oracle", "members not in byte order: a leading digit sorts before letters",
    raw=A('"members":["c-1","go-1","rust-1"]', '"members":["c-1","rust-1","9-x"]'))
bad("roj-ann2-self-missing", "ROJ-ANN-2", "oracle", "members lack the sender", raw=A('"members":["c-1","go-1","rust-1"]', '"members":["c-1","go-1"]'))

# --- PROPOSE -----------------------------------------------------------------------------------
P = lambda old, new: sub(PROPOSE, old, new)
bad("roj-prop1-foreign-pid", "ROJ-PROP-1", "oracle", "pid node part is not the sender", raw=P('"pid":"rust-1:', '"pid":"go-1:'))
bad("roj-prop1-counter-zero", "ROJ-PROP-1", "schema", "pid counter 0", raw=P("5f3a09c2:7", "5f3a09c2:0"))
bad("roj-prop1-counter-leading-zero", "ROJ-PROP-1", "schema", "pid counter with a leading zero", raw=P("5f3a09c2:7", "5f3a09c2:07"))
bad("roj-prop1-counter-overflow", "ROJ-PROP-1", "oracle", "pid counter 2^32 (fits the pattern's 10 digits)", raw=P("5f3a09c2:7", "5f3a09c2:4294967296"))
bad("roj-prop1-counter-11-digits", "ROJ-PROP-1", "schema", "pid counter of 11 digits", raw=P("5f3a09c2:7", "5f3a09c2:10000000000"))
bad("roj-prop1-incarnation-upper", "ROJ-PROP-1", "schema", "pid incarnation in upper-case hex", raw=P("5f3a09c2", "5F3A09C2"))
bad("roj-prop1-incarnation-short", "ROJ-PROP-1", "schema", "pid incarnation of 7 hex digits", raw=P("5f3a09c2", "f3a09c2"))
bad("roj-prop1-no-colons", "ROJ-PROP-1", "schema", "pid without separators", raw=P('"pid":"rust-1:5f3a09c2:7"', '"pid":"rust-1"'))
bad("roj-prop1-missing", "ROJ-PROP-1", "schema", "pid missing", raw=P('"pid":"rust-1:5f3a09c2:7",', ''))
bad("roj-prop2-key-upper", "ROJ-PROP-2", "schema", "key with upper case", raw=P('"key":"bay3"', '"key":"Bay3"'))
bad("roj-prop2-key-empty", "ROJ-PROP-2", "schema", "empty key", raw=P('"key":"bay3"', '"key":""'))
bad("roj-prop2-key-9", "ROJ-PROP-2", "schema", "key of 9 characters", raw=P('"key":"bay3"', '"key":"bay3bay3b"'))
bad("roj-prop2-value-9", "ROJ-PROP-2", "schema", "value of 9 characters", raw=P('"value":"11000"', '"value":"110001100"'))
bad("roj-prop2-value-space", "ROJ-PROP-2", "schema", "value with a space", raw=P('"value":"11000"', '"value":"11 000"'))
bad("roj-prop2-value-nonascii", "ROJ-PROP-2", "schema", "value with a non-ASCII letter", raw=P('"value":"11000"', '"value":"11\u00e4"'))
bad("roj-prop2-value-number", "ROJ-PROP-2", "schema", "value is a number", raw=P('"value":"11000"', '"value":11000'))
bad("roj-prop3-version-0", "ROJ-PROP-3", "schema", "version 0", raw=P('"version":4', '"version":0'))
bad("roj-prop3-version-big", "ROJ-PROP-3", "schema", "version 2^32", raw=P('"version":4', '"version":4294967296'))
bad("roj-prop3-version-string", "ROJ-PROP-3", "schema", 'version "4"', raw=P('"version":4', '"version":"4"'))
bad("roj-prop4-unsorted", "ROJ-PROP-4", "oracle", "members not sorted", raw=P('"members":["c-1","go-1","rust-1"]', '"members":["rust-1","go-1","c-1"]'))
bad("roj-prop4-dup", "ROJ-PROP-4", "schema", "members with a duplicate", raw=P('"members":["c-1","go-1","rust-1"]', '"members":["c-1","c-1","rust-1"]'))
bad("roj-prop4-no-proposer", "ROJ-PROP-4", "oracle", "members lack the proposer", raw=P('"members":["c-1","go-1","rust-1"]', '"members":["c-1","go-1","x-1"]'))
bad("roj-prop4-n-mismatch", "ROJ-PROP-4", "oracle", "n = 4 with 3 members", raw=P('"n":3', '"n":4'))
bad("roj-prop4-n-small", "ROJ-PROP-4", "oracle", "n = 2 with 3 members", raw=P('"n":3', '"n":2'))
bad("roj-prop4-n-zero", "ROJ-PROP-4", "schema", "n = 0", raw=P('"n":3', '"n":0'))
bad("roj-prop4-empty", "ROJ-PROP-4", "schema", "members empty", raw=P('"members":["c-1","go-1","rust-1"]', '"members":[]'))
bad("roj-prop4-member-invalid", "ROJ-PROP-4", "schema", "a member that is not a node_id", raw=P('"members":["c-1","go-1","rust-1"]', '"members":["C-1","go-1","rust-1"]'))
bad("roj-prop4-members-33", "ROJ-PROP-4", "schema", "33 members (n = 33)",
    raw=sub(P('"members":["c-1","go-1","rust-1"]', '"members":' + json.dumps(sorted([f"n{i:02d}" for i in range(32)] + ["rust-1"]), separators=(",", ":"))), '"n":3', '"n":33'))
bad("roj-prop4-members-33-n-32", "ROJ-PROP-4", "schema", "33 members with n = 32",
    raw=sub(P('"members":["c-1","go-1","rust-1"]', '"members":' + json.dumps(sorted([f"n{i:02d}" for i in range(32)] + ["rust-1"]), separators=(",", ":"))), '"n":3', '"n":32'))
bad("roj-prop5-timeout-99", "ROJ-PROP-5", "schema", "timeout_ms 99", raw=P('"timeout_ms":10000', '"timeout_ms":99'))
bad("roj-prop5-timeout-60001", "ROJ-PROP-5", "schema", "timeout_ms 60001", raw=P('"timeout_ms":10000', '"timeout_ms":60001'))
bad("roj-prop5-missing", "ROJ-PROP-5", "schema", "timeout_ms missing", raw=P(',"timeout_ms":10000', ''))

# --- VOTE --------------------------------------------------------------------------------------
V = lambda old, new: sub(VOTE, old, new)
bad("roj-vote7-accept-stale", "ROJ-VOTE-7", "oracle", "accept true with reason stale", raw=V('"reason":"ok"', '"reason":"stale"'))
bad("roj-vote7-reject-ok", "ROJ-VOTE-7", "oracle", "accept false with reason ok", raw=V('"accept":true', '"accept":false'))
bad("roj-vote7-unknown-reason", "ROJ-VOTE-7", "schema", "reason not in the list", raw=V('"accept":true,"reason":"ok"', '"accept":false,"reason":"busy"'))
bad("roj-vote7-accept-string", "ROJ-VOTE-7", "schema", 'accept "true" (a string)', raw=V('"accept":true', '"accept":"true"'))
bad("roj-vote7-accept-number", "ROJ-VOTE-7", "schema", "accept 1", raw=V('"accept":true', '"accept":1'))
bad("roj-vote7-missing-reason", "ROJ-VOTE-7", "schema", "reason missing", raw=V(',"reason":"ok"', ''))
bad("roj-vote-pid-malformed", "ROJ-PROP-1", "schema", "VOTE with a malformed pid", raw=V("rust-1:5f3a09c2:7", "rust-1:5f3a09c2"))
bad("roj-vote-pid-overflow", "ROJ-PROP-1", "oracle", "VOTE with pid counter 9999999999", raw=V("5f3a09c2:7", "5f3a09c2:9999999999"))

# --- COMMIT ------------------------------------------------------------------------------------
C = lambda old, new: sub(COMMIT, old, new)
bad("roj-commit2-unsorted", "ROJ-COMMIT-2", "oracle", "voters not sorted", raw=C('"voters":["c-1","go-1","rust-1"]', '"voters":["go-1","c-1","rust-1"]'))
bad("roj-commit2-dup", "ROJ-COMMIT-2", "schema", "voters with a duplicate", raw=C('"voters":["c-1","go-1","rust-1"]', '"voters":["c-1","rust-1","rust-1"]'))
bad("roj-commit2-below-threshold", "ROJ-COMMIT-2", "oracle", "2 voters for n = 3 (t(3) = 3)", raw=C('"voters":["c-1","go-1","rust-1"]', '"voters":["go-1","rust-1"]'))
bad("roj-commit2-below-threshold-32", "ROJ-COMMIT-2", "oracle", "21 voters for n = 32 (t(32) = 22)",
    raw=sub(C('"voters":["c-1","go-1","rust-1"]', '"voters":' + json.dumps(sorted([f"n{i:02d}" for i in range(20)] + ["rust-1"]), separators=(",", ":"))), '"n":3', '"n":32'))
bad("roj-commit2-more-than-n", "ROJ-COMMIT-2", "oracle", "3 voters for n = 2", raw=C('"n":3', '"n":2'))
bad("roj-commit2-no-proposer", "ROJ-COMMIT-2", "oracle", "voters lack the proposer (n = 4, 3 voters)",
    raw=sub(C('"voters":["c-1","go-1","rust-1"]', '"voters":["a-1","c-1","go-1"]'), '"n":3', '"n":4'))
bad("roj-commit2-n-33", "ROJ-COMMIT-2", "schema", "n = 33", raw=C('"n":3', '"n":33'))
bad("roj-commit2-missing-voters", "ROJ-COMMIT-2", "schema", "voters missing", raw=C(',"voters":["c-1","go-1","rust-1"]', ''))
bad("roj-commit2-empty-voters", "ROJ-COMMIT-2", "schema", "voters empty", raw=C('"voters":["c-1","go-1","rust-1"]', '"voters":[]'))
bad("roj-commit2-n-zero", "ROJ-COMMIT-2", "schema", "n = 0", raw=C('"n":3', '"n":0'))
bad("roj-commit2-voter-invalid", "ROJ-COMMIT-2", "schema", "a voter that is not a node_id", raw=C('"voters":["c-1","go-1","rust-1"]', '"voters":["C-1","go-1","rust-1"]'))
bad("roj-commit2-below-threshold-dup", "ROJ-COMMIT-2", "schema", "3 voters for n = 3 but only 2 distinct",
    raw=C('"voters":["c-1","go-1","rust-1"]', '"voters":["go-1","go-1","rust-1"]'))
bad("roj-commit-value-invalid", "ROJ-PROP-2", "schema", "COMMIT value with a space", raw=C('"value":"11000"', '"value":"11 000"'))
bad("roj-commit-pid-overflow", "ROJ-PROP-1", "oracle", "COMMIT with pid counter 2^32", raw=C("5f3a09c2:7", "5f3a09c2:4294967296"))
bad("roj-commit-key-invalid", "ROJ-PROP-2", "schema", "COMMIT key with upper case", raw=C('"key":"bay3"', '"key":"BAY3"'))
bad("roj-commit-version-0", "ROJ-PROP-3", "schema", "COMMIT version 0", raw=C('"version":4', '"version":0'))
bad("roj-commit4-not-proposer", "ROJ-COMMIT-4", "oracle", "COMMIT sent by a node other than the pid's proposer",
    raw=C('"node_id":"rust-1"', '"node_id":"go-1"'))

# --- ABORT -------------------------------------------------------------------------------------
bad("roj-abort1-not-proposer", "ROJ-ABORT-1", "oracle", "ABORT for another node's pid", raw=sub(ABORT, '"node_id":"rust-1"', '"node_id":"go-1"'))
bad("roj-abort-pid-malformed", "ROJ-PROP-1", "schema", "ABORT with a malformed pid", raw=sub(ABORT, "rust-1:5f3a09c2:7", "rust-1:5f3a09c2"))
bad("roj-abort-pid-overflow", "ROJ-PROP-1", "oracle", "ABORT with pid counter 2^32", raw=sub(ABORT, "5f3a09c2:7", "5f3a09c2:4294967296"))
bad("roj-abort2-reason", "ROJ-ABORT-2", "schema", "reason gave-up", raw=sub(ABORT, '"rejected"', '"gave-up"'))
bad("roj-abort2-missing", "ROJ-ABORT-2", "schema", "reason missing", raw=sub(ABORT, ',"reason":"rejected"', ''))

ids = [v["id"] for v in roj]
assert len(ids) == len(set(ids)), "duplicate vector id"
write("roj-messages.json", roj)

# ---------------------------------------------------------------------------------------------
# EK-KOR frames
# ---------------------------------------------------------------------------------------------

kor = []


def event_bytes(seq=7, ts=1_000_000, etype=0x02, flags=0, origin=3, hop=0, oseq=None, payload=None):
    oseq = seq if oseq is None else oseq
    payload = payload if payload is not None else bytes(range(1, 21))
    assert len(payload) == 20
    return struct.pack("<IIBBBBI", seq, ts, etype, flags, origin, hop, oseq) + payload


def event_decoded(b):
    seq, ts, etype, flags, origin, hop, oseq = struct.unpack("<IIBBBBI", b[:16])
    return {"sequence": seq, "timestamp_us": ts, "event_type": etype, "flags": flags, "origin_id": origin,
            "hop_count": hop, "origin_seq": oseq, "payload": b[16:36].hex()}


SUMMARY = bytes([2, 9, 0, 0, 0, 0x34, 0x12])


def gossip(src=3, count=1, summary=SUMMARY, **ev):
    return bytes([0x60, src, count]) + summary + event_bytes(**ev)


def ack(src=4, entries=((3, 7),), count=None):
    count = len(entries) if count is None else count
    return bytes([0x61, src, count]) + b"".join(struct.pack("<BI", o, s) for o, s in entries)


def request(src=4, target=3, reserved=0, frm=1, to=10):
    return bytes([0x62, src, target, reserved]) + struct.pack("<II", frm, to)


def vvsync(src=4, lo=1, hi=255, entries=((3, 7),), count=None):
    count = len(entries) if count is None else count
    return bytes([0x63, src, lo, hi, count]) + b"".join(struct.pack("<BI", o, s) for o, s in entries)


def decoded(b):
    t = b[0]
    if t == 0x60:
        return {"msg_type": "EVENT_GOSSIP", "source_module": b[1], "event_count": b[2], "vv_summary": b[3:10].hex(),
                "event": event_decoded(b[10:46])}
    if t == 0x61:
        return {"msg_type": "EVENT_ACK", "source_module": b[1], "ack_count": b[2],
                "entries": [{"origin_id": b[3 + 5 * i], "origin_seq": struct.unpack("<I", b[4 + 5 * i:8 + 5 * i])[0]}
                            for i in range(b[2])]}
    if t == 0x62:
        frm, to = struct.unpack("<II", b[4:12])
        return {"msg_type": "EVENT_REQUEST", "source_module": b[1], "target_origin": b[2], "from_seq": frm, "to_seq": to}
    return {"msg_type": "VV_SYNC", "source_module": b[1], "lo": b[2], "hi": b[3], "count": b[4],
            "entries": [{"origin_id": b[5 + 5 * i], "seq": struct.unpack("<I", b[6 + 5 * i:10 + 5 * i])[0]}
                        for i in range(b[4])]}


def kvalid(id_, clause, description, frame):
    kor.append({"id": id_, "clause": clause, "verdict": "valid", "description": description, "hex": frame.hex(),
                "decoded": decoded(frame), "replay": {"port": "kor", "expect": "alive"}})


def kbad(id_, clause, description, frame):
    kor.append({"id": id_, "clause": clause, "verdict": "invalid", "description": description, "hex": frame.hex(),
                "replay": {"port": "kor", "expect": "silence"}})


def cr_payload(key=b"bay3", value=b"11000", version=4):
    return key.ljust(8, b"\0") + value.ljust(8, b"\0") + struct.pack("<I", version)


kvalid("kor-valid-gossip-hop0", "KOR-GOS-1", "FIELD_PUBLISHED at hop 0 from its emitter", gossip())
kvalid("kor-valid-gossip-forwarded", "KOR-GOS-3", "a forwarded event: hop 1, sender differs from origin", gossip(src=5, hop=1))
kvalid("kor-valid-gossip-hop3", "KOR-EVT-5", "hop_count 3 (MAX_HOPS)", gossip(src=5, hop=3))
kvalid("kor-valid-gossip-repair-from-origin", "KOR-GOS-3", "REPAIR set: the origin re-sends at hop 2", gossip(src=3, hop=2, flags=1))
kvalid("kor-valid-gossip-repair-hop0", "KOR-EVT-3", "REPAIR set at hop 0", gossip(flags=1))
kvalid("kor-valid-consensus-result", "KOR-TYPE-1", "CONSENSUS_RESULT bay3=11000 v4 (BRIDGE-2)", gossip(etype=0x07, payload=cr_payload()))
kvalid("kor-valid-consensus-result-full", "KOR-TYPE-1", "CONSENSUS_RESULT with 8-character key and value, empty padding",
       gossip(etype=0x07, payload=cr_payload(b"a_.-09zz", b"Az09_.:+", 0xFFFFFFFF)))
kvalid("kor-valid-consensus-result-empty-value", "KOR-TYPE-1", "CONSENSUS_RESULT with an empty value",
       gossip(etype=0x07, payload=cr_payload(b"k", b"", 1)))
for code in [0x01, 0x03, 0x04, 0x05, 0x06, 0x80, 0xFF]:
    kvalid(f"kor-valid-event-type-{code:02x}", "KOR-EVT-2", f"event type 0x{code:02x} is valid", gossip(etype=code))
kvalid("kor-valid-max-fields", "KOR-EVT-6", "origin_seq and timestamp at 2^32-1, module 255",
       gossip(src=255, origin=255, seq=0xFFFFFFFF, ts=0xFFFFFFFF))
kvalid("kor-valid-ack-1", "KOR-ACK-1", "one ack", ack())
kvalid("kor-valid-ack-4", "KOR-ACK-1", "four acks from different origins", ack(entries=((3, 7), (5, 1), (255, 0xFFFFFFFF), (1, 2))))
kvalid("kor-valid-request", "KOR-REQ-1", "request 1..10", request())
kvalid("kor-valid-request-single", "KOR-REQ-1", "request of one event (from = to)", request(frm=5, to=5))
kvalid("kor-valid-request-63", "KOR-REQ-1", "request spanning 64 events (to - from = 63)", request(frm=1, to=64))
kvalid("kor-valid-vvsync-empty", "KOR-SYNC-1", "an empty range statement (count 0)", vvsync(entries=()))
kvalid("kor-valid-vvsync-one", "KOR-SYNC-1", "one entry", vvsync())
kvalid("kor-valid-vvsync-11", "KOR-SYNC-1", "eleven entries (the maximum, 60 bytes)",
       vvsync(entries=tuple((o, o * 10) for o in range(10, 21))))
kvalid("kor-valid-vvsync-point", "KOR-SYNC-1", "lo = hi, entry at the bound", vvsync(lo=9, hi=9, entries=((9, 1),)))

kbad("kor-wire2-65", "KOR-WIRE-2", "65 bytes", gossip() + bytes(19))
kbad("kor-wire2-1400", "KOR-WIRE-2", "a 1400-byte datagram", bytes([0x60]) + bytes(1399))
kbad("kor-frame1-0x64", "KOR-FRAME-1", "msg_type 0x64", bytes([0x64]) + gossip()[1:])
kbad("kor-frame1-0x00", "KOR-FRAME-1", "msg_type 0x00", bytes([0x00]) + request()[1:])
kbad("kor-frame1-json", "KOR-FRAME-1", "an EK-ROJ JSON datagram sent to the EK-KOR port", b'{"proto":1}')
kbad("kor-frame2-gossip", "KOR-FRAME-2", "source_module 0 in a gossip", gossip(src=0))
kbad("kor-frame2-ack", "KOR-FRAME-2", "source_module 0 in an ack", ack(src=0))
kbad("kor-frame2-request", "KOR-FRAME-2", "source_module 0 in a request", request(src=0))
kbad("kor-frame3-empty", "KOR-FRAME-3", "empty datagram", b"")
kbad("kor-frame3-one-byte", "KOR-FRAME-3", "just a msg_type", bytes([0x60]))
kbad("kor-frame3-gossip-45", "KOR-FRAME-3", "gossip one byte short", gossip()[:45])
kbad("kor-frame3-gossip-47", "KOR-FRAME-3", "gossip with a trailing byte", gossip() + b"\0")
kbad("kor-wire2-seed-batch", "KOR-WIRE-2", "the seed's two-event gossip: 82 bytes, over the 64-byte limit",
     gossip(count=2) + event_bytes())
kbad("kor-frame3-request-11", "KOR-FRAME-3", "request one byte short", request()[:11])
kbad("kor-frame3-request-13", "KOR-FRAME-3", "request with a trailing byte", request() + b"\0")
kbad("kor-frame3-ack-short", "KOR-FRAME-3", "ack_count 2 but one entry", ack(entries=((3, 7),), count=2))
kbad("kor-frame3-ack-long", "KOR-FRAME-3", "ack_count 1 but two entries", ack(entries=((3, 7), (4, 1)), count=1))
kbad("kor-frame3-vvsync-short", "KOR-FRAME-3", "VV_SYNC count 2 but one entry", vvsync(count=2))
kbad("kor-frame3-vvsync-header", "KOR-FRAME-3", "VV_SYNC cut inside its header", vvsync()[:4])
kbad("kor-gos1-count-0", "KOR-GOS-1", "event_count 0", gossip(count=0))
kbad("kor-gos1-count-2", "KOR-GOS-1", "event_count 2 in a 46-byte frame", gossip(count=2))
kbad("kor-gos3-hop0-relay", "KOR-GOS-3", "hop 0 sent by a module other than the origin", gossip(src=5, hop=0))
kvalid("kor-valid-gossip-repair-hop0-relay", "KOR-GOS-3", "REPAIR exempts from KOR-GOS-3: a repaired hop-0 event sent by a non-origin", gossip(src=5, hop=0, flags=1))
kbad("kor-gos3-hop1-from-origin", "KOR-GOS-3", "hop 1 sent by the origin itself without REPAIR", gossip(src=3, hop=1))
kbad("kor-gos3-hop3-from-origin", "KOR-GOS-3", "hop 3 sent by the origin itself without REPAIR", gossip(src=3, hop=3))
kbad("kor-evt1-sequence", "KOR-EVT-1", "sequence differs from origin_seq", gossip(seq=8, oseq=7))
kbad("kor-evt2-0x00", "KOR-EVT-2", "event_type 0x00", gossip(etype=0x00))
kbad("kor-evt2-0x08", "KOR-EVT-2", "event_type 0x08", gossip(etype=0x08))
kbad("kor-evt2-0x7f", "KOR-EVT-2", "event_type 0x7f", gossip(etype=0x7F))
kbad("kor-evt3-bit1", "KOR-EVT-3", "flags bit 1 set", gossip(flags=0x02))
kbad("kor-evt3-bit7", "KOR-EVT-3", "flags bit 7 set (with REPAIR)", gossip(flags=0x81))
kbad("kor-evt4-origin-0", "KOR-EVT-4", "origin_id 0", gossip(origin=0, src=3, hop=1))
kbad("kor-evt5-hop-4", "KOR-EVT-5", "hop_count 4", gossip(src=5, hop=4))
kbad("kor-evt5-hop-255", "KOR-EVT-5", "hop_count 255", gossip(src=5, hop=255))
kbad("kor-evt6-origin-seq-0", "KOR-EVT-6", "origin_seq 0 (and sequence 0)", gossip(seq=0, oseq=0))
kbad("kor-type1-empty-key", "KOR-TYPE-1", "CONSENSUS_RESULT with an empty key", gossip(etype=0x07, payload=cr_payload(key=b"")))
kbad("kor-type1-key-upper", "KOR-TYPE-1", "CONSENSUS_RESULT key with upper case", gossip(etype=0x07, payload=cr_payload(key=b"Bay3")))
kbad("kor-type1-key-after-nul", "KOR-TYPE-1", "CONSENSUS_RESULT key with a byte after its NUL padding",
     gossip(etype=0x07, payload=b"bay\0x\0\0\0" + b"11000\0\0\0" + struct.pack("<I", 4)))
kbad("kor-type1-value-space", "KOR-TYPE-1", "CONSENSUS_RESULT value with a space", gossip(etype=0x07, payload=cr_payload(value=b"11 000")))
kbad("kor-type1-value-after-nul", "KOR-TYPE-1", "CONSENSUS_RESULT value with a byte after its NUL padding",
     gossip(etype=0x07, payload=b"bay3\0\0\0\0" + b"1\0\0\0\0\0\0z" + struct.pack("<I", 4)))
kbad("kor-type1-version-0", "KOR-TYPE-1", "CONSENSUS_RESULT version 0", gossip(etype=0x07, payload=cr_payload(version=0)))
kbad("kor-ack1-count-0", "KOR-ACK-1", "ack_count 0", ack(entries=()))
kbad("kor-ack1-count-5", "KOR-ACK-1", "ack_count 5 with five entries (28 bytes)", ack(entries=tuple((i, 1) for i in range(1, 6))))
kbad("kor-ack1-origin-0", "KOR-ACK-1", "an acked origin_id 0", ack(entries=((3, 7), (0, 1))))
kbad("kor-ack1-seq-0", "KOR-ACK-1", "an acked origin_seq 0", ack(entries=((3, 0),)))
kbad("kor-req1-target-0", "KOR-REQ-1", "target_origin 0", request(target=0))
kbad("kor-req1-reserved", "KOR-REQ-1", "reserved byte 1", request(reserved=1))
kbad("kor-req1-from-0", "KOR-REQ-1", "from_seq 0", request(frm=0, to=3))
kbad("kor-req1-reversed", "KOR-REQ-1", "from_seq > to_seq", request(frm=10, to=9))
kbad("kor-req1-span-64", "KOR-REQ-1", "to - from = 64", request(frm=1, to=65))
kbad("kor-req1-span-huge", "KOR-REQ-1", "from 1 to 2^32-1", request(frm=1, to=0xFFFFFFFF))
kbad("kor-sync1-lo-0", "KOR-SYNC-1", "lo 0", vvsync(lo=0))
kbad("kor-sync1-lo-gt-hi", "KOR-SYNC-1", "lo > hi", vvsync(lo=10, hi=9, entries=()))
kbad("kor-sync1-count-12", "KOR-SYNC-1", "count 12 (65 bytes would also break KOR-WIRE-2; here the count byte alone says 12)",
     vvsync(entries=tuple((o, 1) for o in range(1, 12)), count=12))
kbad("kor-sync1-descending", "KOR-SYNC-1", "entries not ascending", vvsync(entries=((5, 1), (4, 1))))
kbad("kor-sync1-duplicate", "KOR-SYNC-1", "the same origin twice", vvsync(entries=((5, 1), (5, 2))))
kbad("kor-sync1-outside", "KOR-SYNC-1", "entry outside [lo, hi]", vvsync(lo=10, hi=20, entries=((21, 1),)))
kbad("kor-sync1-seq-0", "KOR-SYNC-1", "entry with seq 0", vvsync(entries=((3, 0),)))

ids = [v["id"] for v in kor]
assert len(ids) == len(set(ids)), "duplicate vector id"
write("kor-frames.json", kor)

# ---------------------------------------------------------------------------------------------
# Threshold (ROJ-THR-1)
# ---------------------------------------------------------------------------------------------
rows = []
for n in range(1, 2001):
    t = (67 * n + 99) // 100
    seed = math.ceil(n * 0.67)  # Python floats are IEEE-754 doubles, as in the seed
    rows.append({"n": n, "t": t, "seed_f64": seed, "disagree": t != seed})
dis = [r["n"] for r in rows if r["disagree"]]
write("threshold.json", {
    "clause": "ROJ-THR-1",
    "description": "t(n) = (67n + 99) / 100 in integer arithmetic; seed_f64 = ceil(n * 0.67) in IEEE-754 double",
    "disagreements": dis,
    "rows": rows,
})

# ---------------------------------------------------------------------------------------------
# Version vectors (KOR-VV-1, KOR-GOS-2)
# ---------------------------------------------------------------------------------------------


def crc16_ccitt_false(data):
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


assert crc16_ccitt_false(b"123456789") == 0x29B1  # the catalogue check value


def summary(vv):
    nz = sorted((o, s) for o, s in vv.items() if s)
    count = min(len(nz), 255)
    total = sum(s for _, s in nz) % 2**32
    crc = crc16_ccitt_false(b"".join(struct.pack("<BI", o, s) for o, s in nz))
    return (bytes([count]) + struct.pack("<I", total) + struct.pack("<H", crc)).hex()


def compare(a, b):
    keys = set(a) | set(b)
    gt = any(a.get(k, 0) > b.get(k, 0) for k in keys)
    lt = any(a.get(k, 0) < b.get(k, 0) for k in keys)
    return {(False, False): "equal", (False, True): "before", (True, False): "after", (True, True): "concurrent"}[(gt, lt)]


def merge(a, b):
    return {k: max(a.get(k, 0), b.get(k, 0)) for k in sorted(set(a) | set(b)) if max(a.get(k, 0), b.get(k, 0))}


vv_cases = [
    ("vv-empty-equal", {}, {}),
    ("vv-equal", {1: 5, 2: 3}, {1: 5, 2: 3}),
    ("vv-explicit-zero-equal", {1: 5, 7: 0}, {1: 5}),
    ("vv-before-one-entry", {1: 4, 2: 3}, {1: 5, 2: 3}),
    ("vv-before-new-origin", {1: 5}, {1: 5, 9: 1}),
    ("vv-after", {1: 6, 2: 3}, {1: 5, 2: 3}),
    ("vv-after-empty", {3: 1}, {}),
    ("vv-before-empty", {}, {255: 1}),
    ("vv-concurrent", {1: 6, 2: 2}, {1: 5, 2: 3}),
    ("vv-concurrent-disjoint", {1: 1}, {2: 1}),
    ("vv-max-values", {1: 0xFFFFFFFF, 255: 0xFFFFFFFF}, {1: 0xFFFFFFFE, 255: 0xFFFFFFFF}),
    ("vv-wide", {o: o for o in range(1, 256)}, {o: 256 - o for o in range(1, 256)}),
]
vv_doc = {"clause": "KOR-VV-1", "compare": [], "summary": []}
for id_, a, b in vv_cases:
    vv_doc["compare"].append({"id": id_, "a": {str(k): v for k, v in a.items() if v},
                              "b": {str(k): v for k, v in b.items() if v},
                              "a_vs_b": compare(a, b), "b_vs_a": compare(b, a),
                              "merge": {str(k): v for k, v in merge(a, b).items()}})
for id_, v in [("summary-empty", {}), ("summary-one", {3: 7}), ("summary-two", {1: 5, 2: 3}),
               ("summary-wraps-sum", {1: 0xFFFFFFFF, 2: 2}), ("summary-255-origins", {o: o for o in range(1, 256)}),
               ("summary-order-independent", {200: 1, 10: 99, 100: 42})]:
    vv_doc["summary"].append({"id": id_, "clause": "KOR-GOS-2", "vv": {str(k): s for k, s in v.items()}, "summary": summary(v)})
write("vv.json", vv_doc)

# ---------------------------------------------------------------------------------------------
# LWW (KOR-LWW-1)
# ---------------------------------------------------------------------------------------------


def newer(a, b):
    if a["ts"] != b["ts"]:
        d = (a["ts"] - b["ts"]) % 2**32
        if d == 2**31:
            return a["ts"] > b["ts"]
        return 1 <= d <= 2**31 - 1
    if a["origin"] != b["origin"]:
        return a["origin"] > b["origin"]
    return a["seq"] > b["seq"]


S = lambda ts, origin=1, seq=1: {"ts": ts, "origin": origin, "seq": seq}
lww_cases = [
    ("lww-later", "plain later timestamp", S(2000), S(1000)),
    ("lww-earlier", "plain earlier timestamp", S(1000), S(2000)),
    ("lww-one-tick", "difference 1", S(1), S(0)),
    ("lww-wrap", "just after the wrap is newer than just before it", S(5), S(0xFFFFFFF0)),
    ("lww-wrap-reverse", "just before the wrap is older", S(0xFFFFFFF0), S(5)),
    ("lww-half-minus-one", "difference 2^31 - 1: newer", S(0x7FFFFFFF), S(0)),
    ("lww-half-minus-one-wrapped", "difference 2^31 - 1 across the wrap", S(0x7FFFFFFE), S(0xFFFFFFFF)),
    ("lww-half-plus-one", "difference 2^31 + 1: the numerically larger is older", S(0x80000001), S(0)),
    ("lww-exact-half-larger", "difference exactly 2^31: the numerically larger timestamp is newer", S(0x80000000), S(0)),
    ("lww-exact-half-smaller", "difference exactly 2^31, seen from the smaller", S(0), S(0x80000000)),
    ("lww-exact-half-high", "2^31 apart high in the range", S(0xFFFFFFFF), S(0x7FFFFFFF)),
    ("lww-tie-origin", "equal timestamps: the higher origin wins", S(500, origin=9), S(500, origin=3)),
    ("lww-tie-origin-lower", "equal timestamps: the lower origin loses", S(500, origin=3), S(500, origin=9)),
    ("lww-tie-seq", "equal timestamp and origin: the higher origin_seq wins", S(500, 3, 10), S(500, 3, 9)),
    ("lww-tie-seq-lower", "equal timestamp and origin: the lower origin_seq loses", S(500, 3, 9), S(500, 3, 10)),
    ("lww-identical", "identical stamps: neither is newer", S(500, 3, 9), S(500, 3, 9)),
    ("lww-ts-beats-origin", "a newer timestamp beats a higher origin", S(501, 1, 1), S(500, 255, 99)),
    ("lww-ts-beats-seq", "a newer timestamp beats a higher origin_seq", S(501, 3, 1), S(500, 3, 0xFFFFFFFF)),
    ("lww-zero-vs-max", "0 vs 2^32-1: 0 is newer (difference 1 across the wrap)", S(0), S(0xFFFFFFFF)),
]
write("lww.json", {"clause": "KOR-LWW-1", "cases": [
    {"id": i, "description": d, "a": a, "b": b, "a_newer": newer(a, b), "b_newer": newer(b, a)}
    for i, d, a, b in lww_cases]})

# ---------------------------------------------------------------------------------------------
# Digests (CTL-DIGEST-1..3)
# ---------------------------------------------------------------------------------------------


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h ^= byte
        h = (h * 0x100000001B3) % 2**64
    return h


def kvd(entries):
    return fnv1a64(b"".join(f"{k}={v}@{ver}\n".encode() for k, v, ver in sorted(entries, key=lambda e: e[0].encode())))


def norm(ev):
    ev = bytearray(ev)
    ev[9] = 0
    ev[11] = 0
    return bytes(ev)


def logd(events):
    key = lambda e: (e[10], struct.unpack("<I", e[12:16])[0])
    return fnv1a64(b"".join(norm(e) for e in sorted(events, key=key)))


def fieldsd(fields):
    return fnv1a64(b"".join(bytes([f]) + norm(e) for f, e in sorted(fields, key=lambda x: x[0])))


E1 = event_bytes(seq=1, origin=3, etype=0x02, payload=bytes([7]) + bytes(19))
E2 = event_bytes(seq=2, origin=3, etype=0x02, flags=1, hop=2, payload=bytes([8]) + bytes(19))
E3 = event_bytes(seq=1, origin=1, etype=0x07, hop=3, payload=cr_payload())
E2_clean = event_bytes(seq=2, origin=3, etype=0x02, payload=bytes([8]) + bytes(19))
kv_cases = [("kv-empty", []), ("kv-one", [("bay3", "11000", 4)]),
            ("kv-unsorted-input", [("b", "2", 1), ("a", "", 7), ("a.b", "x:y", 4294967295)]),
            ("kv-byte-order", [("z", "1", 1), ("0", "1", 1), ("_", "1", 1), ("-", "1", 1)])]
write("digest.json", {
    "fnv1a64": [{"id": i, "hex_input": d.hex(), "digest": f"{fnv1a64(d):016x}"} for i, d in
                [("fnv-empty", b""), ("fnv-a", b"a"), ("fnv-foobar", b"foobar")]],
    "kv": [{"id": i, "clause": "CTL-DIGEST-1", "entries": [{"key": k, "value": v, "version": ver} for k, v, ver in e],
            "digest": f"{kvd(e):016x}"} for i, e in kv_cases],
    "log": [{"id": i, "clause": "CTL-DIGEST-2", "events": [e.hex() for e in evs], "digest": f"{logd(evs):016x}"}
            for i, evs in [("log-empty", []), ("log-one", [E1]), ("log-unsorted-input", [E2, E3, E1]),
                           ("log-flags-hops-ignored", [E2_clean, E3, E1])]],
    "fields": [{"id": i, "clause": "CTL-DIGEST-3", "fields": [{"field_id": f, "event": e.hex()} for f, e in fs],
                "digest": f"{fieldsd(fs):016x}"}
               for i, fs in [("fields-empty", []), ("fields-two", [(8, E2), (7, E1)]), ("fields-one", [(0, E1)])]],
})

print(f"wrote {len(roj)} EK-ROJ vectors, {len(kor)} EK-KOR vectors, {len(rows)} threshold rows "
      f"(disagreements at n = {dis}), {len(vv_doc['compare'])}+{len(vv_doc['summary'])} VV, {len(lww_cases)} LWW cases")
