#!/usr/bin/env python3
"""Checks the JSON Schemas and the EK-ROJ golden vectors with an independent draft-7 validator
(Python `jsonschema` + `referencing`), so the Rust oracle is not the only judge of the schemas.

1. every vectors/schema/*.json is a valid draft-7 schema (Draft7Validator.check_schema);
2. every "$ref" in every schema resolves through a registry holding all the schemas;
3. every EK-ROJ vector whose verdict the schema decides agrees with roj-message.json: "valid"
   vectors validate, "invalid" vectors with layer "schema" fail, and "invalid" vectors with layer
   "oracle" (rejected only by rules beyond the schema) validate.

JSON Schema patterns are ECMA-262 regular expressions, in which `$` (without the m flag) matches
only at the very end. Python's `re` also matches `$` before a final newline, so a trailing "$" is
evaluated as `\\Z` here (vector roj-env4-newline depends on it).

Prints one line per failure and a final line "N passed, M failed"; exits 1 on any failure.
"""
import json
import os
import re
import sys

import jsonschema
from jsonschema import Draft7Validator, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_DIR = os.path.join(HERE, "schema")

passed = 0
failed = 0


def ok(_what):
    global passed
    passed += 1


def fail(what):
    global failed
    failed += 1
    print(f"FAIL {what}")


def ecma_pattern(validator, pattern, instance, schema):
    if not validator.is_type(instance, "string"):
        return
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    if not re.search(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


EcmaDraft7 = validators.extend(Draft7Validator, {"pattern": ecma_pattern})
# Referenced schemas carry "$schema": draft-07 and jsonschema picks their validator class from it,
# so the ECMA-262 pattern rule is registered for that meta-schema URI (in this process only).
validators.validates("http://json-schema.org/draft-07/schema#")(EcmaDraft7)


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def main():
    schemas = {}
    for name in sorted(os.listdir(SCHEMA_DIR)):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(SCHEMA_DIR, name)) as f:
                schemas[name] = json.load(f)
        except (OSError, ValueError) as e:
            fail(f"schema {name}: not readable JSON: {e}")
    if not schemas:
        fail("no schemas found")

    for name, schema in schemas.items():
        try:
            Draft7Validator.check_schema(schema)
            ok(name)
        except jsonschema.SchemaError as e:
            fail(f"schema {name}: not a valid draft-7 schema: {e.message}")
        if schema.get("$id", "").rsplit("/", 1)[-1] != name:
            fail(f"schema {name}: $id {schema.get('$id')!r} does not end in its file name")
        else:
            ok(name)

    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s, default_specification=DRAFT7)) for s in schemas.values() if "$id" in s
    )
    for name, schema in schemas.items():
        resolver = registry.resolver(base_uri=schema.get("$id", ""))
        for ref in refs(schema):
            try:
                resolver.lookup(ref)
                ok(f"{name} {ref}")
            except Exception as e:  # referencing raises several unresolvable-kinds
                fail(f"schema {name}: $ref {ref!r} does not resolve: {e}")

    message_schema = schemas.get("roj-message.json")
    if message_schema is None:
        fail("roj-message.json missing")
        return
    validator = EcmaDraft7(message_schema, registry=registry)
    with open(os.path.join(HERE, "roj-messages.json")) as f:
        vectors = json.load(f)
    for v in vectors:
        vid, verdict, layer = v.get("id"), v.get("verdict"), v.get("layer")
        if verdict not in ("valid", "invalid") or layer not in ("wire", "schema", "oracle"):
            fail(f"vector {vid}: bad verdict/layer {verdict!r}/{layer!r}")
            continue
        if layer == "wire":
            continue
        raw = bytes.fromhex(v["hex"]) if "hex" in v else v["raw"].encode("utf-8")
        try:
            doc = json.loads(raw.decode("utf-8"))
        except ValueError as e:
            fail(f"vector {vid}: layer {layer} but not JSON: {e}")
            continue
        errors = list(validator.iter_errors(doc))
        expect_valid = verdict == "valid" or layer == "oracle"
        if expect_valid and errors:
            fail(f"vector {vid}: expected the schema to accept it, got: {errors[0].message}")
        elif not expect_valid and not errors:
            fail(f"vector {vid}: expected the schema to reject it, but it validates")
        else:
            ok(vid)


if __name__ == "__main__":
    main()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
