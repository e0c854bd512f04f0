#!/usr/bin/env python3
"""Mutation catalogue of the reference nodes (issue 18 item 6).

Each mutant in catalogue.toml is one small patch (patches/<id>.patch, a unified diff against one
reference node) that breaks one spec clause the way a vendor could. `run` applies each patch to a
scratch copy of the repository, builds the node image under a mutant tag with the node's own
Justfile recipe (the same recipe `ekconform images` runs, its tag overridden through
EKC_NODE_<IMPL>_IMAGE), judges it with `ekconform certify -s <scenarios>` and records

  killed    certify exit 1 (not certified: a pre-check step or a case failed),
  survived  certify exit 0 (certified although the clause is broken: a missing check/scenario),
  error     the build failed or certify exit 2 (unjudgeable); never counted as killed.

The unmodified reference images are certified alongside on the same scenarios (`--baseline-repeat`
runs each) and must pass every time. Results (JSON and Markdown) go to reports/mutants/ and are
merged by mutant id, so batches run one after another fill one table. `check` validates the
catalogue and that every patch applies to the current tree, without building anything.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CATALOGUE = HERE / "catalogue.toml"
PATCHES = HERE / "patches"
NODES = ("rust", "go", "c")
REQUIRED = {"id": str, "node": str, "clause": str, "description": str, "scenarios": list}
CLAUSE_RE = re.compile(r"^(ROJ|KOR|CTL|BRIDGE)(-[A-Z]+)?-\d+$")
ID_RE = re.compile(r"^(rust|go|c)-[a-z0-9-]+$")


# ---- catalogue --------------------------------------------------------------------------------

def spec_clauses() -> set[str]:
    """Every clause ID the specs define or cite (docs/spec/*.md)."""
    ids: set[str] = set()
    for md in (ROOT / "docs/spec").glob("*.md"):
        ids.update(re.findall(r"\b(?:ROJ|KOR|CTL|BRIDGE)(?:-[A-Z]+)?-\d+\b", md.read_text()))
    return ids


def scenario_names() -> set[str]:
    names = set()
    for f in (ROOT / "vectors/scenarios").glob("*.toml"):
        names.add(tomllib.loads(f.read_text())["name"])
    return names


def load_catalogue() -> list[dict]:
    return tomllib.loads(CATALOGUE.read_text()).get("mutant", [])


def patched_files(patch: Path) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^\+\+\+ b/(\S+)", patch.read_text(), re.M)]


def catalogue_problems(mutants: list[dict]) -> list[str]:
    """Everything wrong with the catalogue or its patches; empty when well-formed."""
    problems: list[str] = []
    clauses, scenarios = spec_clauses(), scenario_names()
    seen: set[str] = set()
    for i, m in enumerate(mutants):
        where = f"mutant #{i + 1} ({m.get('id', '?')})"
        for key, ty in REQUIRED.items():
            if not isinstance(m.get(key), ty) or not m.get(key):
                problems.append(f"{where}: `{key}` missing or not a non-empty {ty.__name__}")
        if problems and problems[-1].startswith(where):
            continue
        unknown = set(m) - set(REQUIRED) - {"related"}
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(unknown)}")
        if m["id"] in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(m["id"])
        if not ID_RE.match(m["id"]) or not m["id"].startswith(m["node"] + "-"):
            problems.append(f"{where}: id must be `<node>-<words>` in lower case")
        if m["node"] not in NODES:
            problems.append(f"{where}: node must be one of {NODES}")
        for c in [m["clause"], *m.get("related", [])]:
            if not CLAUSE_RE.match(c) or c not in clauses:
                problems.append(f"{where}: clause {c} is not defined in docs/spec")
        for s in m["scenarios"]:
            if s not in scenarios:
                problems.append(f"{where}: no scenario named {s!r} in vectors/scenarios")
        problems.extend(patch_problems(where, m))
    for p in PATCHES.glob("*.patch"):
        if p.stem not in seen:
            problems.append(f"patches/{p.name}: not in catalogue.toml")
    return problems


def patch_problems(where: str, m: dict) -> list[str]:
    patch = PATCHES / f"{m['id']}.patch"
    if not patch.is_file():
        return [f"{where}: patches/{patch.name} does not exist"]
    files = patched_files(patch)
    if not files:
        return [f"{where}: patches/{patch.name} changes no file"]
    out = [f"{where}: patch touches {f}, outside reference-impls/{m['node']}/" for f in files
           if not f.startswith(f"reference-impls/{m['node']}/")]
    r = subprocess.run(["git", "apply", "--check", str(patch)], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        out.append(f"{where}: patch does not apply to the current tree: {r.stderr.strip()}")
    return out


# ---- scratch tree and image build -------------------------------------------------------------

def sync_tree(tree: Path) -> None:
    """Copies the repository's files (tracked and untracked-not-ignored) into `tree`, writing only
    files whose bytes differ so the node builds stay incremental."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True).stdout
    for rel in filter(None, out.split(b"\0")):
        src, dst = ROOT / rel.decode(), tree / rel.decode()
        if not src.is_file():
            continue
        data = src.read_bytes()
        if dst.is_file() and dst.read_bytes() == data:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)
        shutil.copymode(src, dst)


def mutant_tag(mid: str) -> str:
    return f"ekconform/mutant:{mid}"


def build_mutant(m: dict, tree: Path, log: Path) -> str | None:
    """Patched image under the mutant tag; returns an error text, or None when built."""
    sync_tree(tree)
    patch = PATCHES / f"{m['id']}.patch"
    env = dict(os.environ)
    env[f"EKC_NODE_{m['node'].upper()}_IMAGE"] = mutant_tag(m["id"])
    # The Rust recipe builds in the repository's target dir: the dependencies are compiled once.
    env.setdefault("CARGO_TARGET_DIR", str(ROOT / "target"))
    with log.open("w") as f:
        steps = [["git", "apply", str(patch)], ["just", f"image-node-{m['node']}"]]
        try:
            for cmd in steps:
                f.write(f"$ {' '.join(cmd)}\n")
                f.flush()
                r = subprocess.run(cmd, cwd=tree, env=env, stdout=f, stderr=subprocess.STDOUT)
                if r.returncode != 0:
                    return f"`{' '.join(cmd)}` failed (exit {r.returncode}), see {log}"
        finally:
            # The next mutant starts from the unpatched tree again.
            subprocess.run(["git", "apply", "-R", str(patch)], cwd=tree, capture_output=True)
    return None


def remove_image(tag: str) -> None:
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


# ---- judging ---------------------------------------------------------------------------------

def certify(ekc: str, image: str, scenarios: list[str], repeat: int, jobs: int, out: Path) -> dict:
    """Runs `ekconform certify`; returns exit code, pre-check failures and the vendor's failing cases."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    cmd = [ekc, "certify", "--image", image, "-s", ",".join(scenarios), "--repeat", str(repeat),
           "-j", str(jobs), "--reports", str(out / "runs"), "--out", str(out / "bundle")]
    t0 = time.monotonic()
    with (out / "certify.log").open("w") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        r = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    text = (out / "certify.log").read_text()
    precheck = [ln.split(None, 1)[1].strip() for ln in text.splitlines() if ln.startswith("pre-check ") and " FAIL " in ln]
    cases = []
    results = sorted((out / "runs").glob("*/results.json"))
    for c in json.loads(results[-1].read_text())["cases"] if results else []:
        if "vendor" not in c["mix"].split("+"):
            continue
        cases.append({
            "id": c["id"], "repeat": c["repeat"], "verdict": c["verdict"], "clause": c.get("clause"),
            "reason": c.get("reason", "")[:300],
            "finding_clauses": sorted({f["clause"] for f in c.get("findings", [])}),
            "dir": str((results[-1].parent / c["dir"]).relative_to(ROOT)) if results[-1].is_relative_to(ROOT) else c["dir"],
        })
    return {"exit": r.returncode, "seconds": round(time.monotonic() - t0, 1), "precheck_failures": precheck,
            "cases": len(cases), "failing": [c for c in cases if c["verdict"] in ("fail", "error")]}


def failing_clauses(judged: dict) -> list[str]:
    found: list[str] = []
    for s in judged["precheck_failures"]:
        found += re.findall(r"\b(?:ROJ|KOR|CTL|BRIDGE)(?:-[A-Z]+)?-\d+\b", s)[:1]
    for c in judged["failing"]:
        found += ([c["clause"]] if c["clause"] else []) + c["finding_clauses"]
    return sorted(set(found))


def failing_scenarios(judged: dict) -> list[str]:
    """Which of the mapped scenarios caught the mutant: one that never does needs a sharper check."""
    return sorted({c["id"].split("@")[0].split("/")[0] for c in judged["failing"]})


def family(clause: str) -> str:
    return clause.rsplit("-", 1)[0]


def reason_match(m: dict, clauses: list[str]) -> str:
    """`exact` when a failure cites the mutated (or a related) clause, `family` when one cites the
    same clause family (ROJ-VOTE-*), else `other`: killed, but for a reason to review."""
    wanted = [m["clause"], *m.get("related", [])]
    if any(c in wanted for c in clauses):
        return "exact"
    if any(family(c) in {family(w) for w in wanted} for c in clauses):
        return "family"
    return "other"


def judge_mutant(m: dict, args, tree: Path, out: Path) -> dict:
    rec = {"id": m["id"], "node": m["node"], "clause": m["clause"], "description": m["description"],
           "scenarios": m["scenarios"], "repeat": args.repeat,
           "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    mdir = out / "mutants" / m["id"]
    mdir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    err = build_mutant(m, tree, mdir / "build.log")
    rec["build_seconds"] = round(time.monotonic() - t0, 1)
    if err:
        rec.update(outcome="error", detail=err)
        return rec
    try:
        judged = certify(args.ekconform, mutant_tag(m["id"]), m["scenarios"], args.repeat, args.jobs, mdir / "certify")
    finally:
        remove_image(mutant_tag(m["id"]))
    rec["certify"] = judged
    rec["certify_seconds"] = judged["seconds"]
    clauses = failing_clauses(judged)
    rec["failing_clauses"] = clauses
    rec["failing_scenarios"] = failing_scenarios(judged)
    if judged["exit"] == 1:
        rec.update(outcome="killed", reason_match=reason_match(m, clauses))
    elif judged["exit"] == 0:
        rec.update(outcome="survived")
    else:
        rec.update(outcome="error", detail=f"certify exit {judged['exit']} (unjudgeable), see {mdir / 'certify/certify.log'}")
    return rec


def judge_baseline(node: str, scenarios: list[str], args, out: Path) -> dict:
    judged = certify(args.ekconform, f"ekconform/node-{node}:dev", scenarios, args.baseline_repeat, args.jobs,
                     out / "baseline" / node)
    return {"node": node, "scenarios": scenarios, "repeat": args.baseline_repeat, "exit": judged["exit"],
            "case_runs": judged["cases"], "false_fails": judged["failing"], "precheck_failures": judged["precheck_failures"],
            "seconds": judged["seconds"], "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


# ---- results ---------------------------------------------------------------------------------

def summary(results: dict) -> dict:
    ms = list(results["mutants"].values())
    killed = sum(m["outcome"] == "killed" for m in ms)
    survived = sum(m["outcome"] == "survived" for m in ms)
    errors = sum(m["outcome"] == "error" for m in ms)
    judged = killed + survived
    return {"mutants": len(ms), "killed": killed, "survived": survived, "errors": errors,
            "kill_ratio": round(killed / judged, 4) if judged else None,
            "wrong_reason": sorted(m["id"] for m in ms if m.get("reason_match") == "other"),
            "baseline_case_runs": sum(b["case_runs"] for b in results["baseline"].values()),
            "baseline_false_fails": sum(len(b["false_fails"]) + (b["exit"] == 2) for b in results["baseline"].values())}


def write_results(results: dict, out: Path) -> None:
    results["summary"] = summary(results)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(markdown(results))


def markdown(results: dict) -> str:
    s = results["summary"]
    ratio = f"{100 * s['kill_ratio']:.1f} %" if s["kill_ratio"] is not None else "n/a"
    lines = [
        "# Mutation catalogue: results", "",
        f"{s['mutants']} mutants: {s['killed']} killed, {s['survived']} survived, {s['errors']} error "
        f"(not counted); kill ratio {ratio}. Unmutated nodes: {s['baseline_case_runs']} vendor case runs, "
        f"{s['baseline_false_fails']} false fail(s).", "",
        "| mutant | clause | scenarios | outcome | failing scenarios | failing clauses | reason | build s | certify s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in sorted(results["mutants"].values(), key=lambda m: m["id"]):
        lines.append(f"| {m['id']} | {m['clause']} | {', '.join(m['scenarios'])} | {m['outcome']} | "
                     f"{', '.join(failing_scenarios(m['certify']) if 'certify' in m else [])} | {', '.join(m.get('failing_clauses', []))} | "
                     f"{m.get('reason_match', '')} | "
                     f"{m.get('build_seconds', '')} | {m.get('certify_seconds', '')} |")
    lines += ["", "## Unmutated nodes", "", "| node | scenarios | repeat | case runs | false fails |", "|---|---|---|---|---|"]
    for b in results["baseline"].values():
        ff = "; ".join(f"{c['id']}#{c['repeat']}: {c['reason'][:120]}" for c in b["false_fails"]) or "0"
        lines.append(f"| {b['node']} | {', '.join(b['scenarios'])} | {b['repeat']} | {b['case_runs']} | {ff} |")
    survivors = [m for m in results["mutants"].values() if m["outcome"] == "survived"]
    if survivors:
        lines += ["", "## Survivors (each is a missing check or scenario)", ""]
        lines += [f"- **{m['id']}** ({m['clause']}): {m['description']}" for m in survivors]
    return "\n".join(lines) + "\n"


# ---- commands --------------------------------------------------------------------------------

def cmd_check(_args) -> int:
    mutants = load_catalogue()
    problems = catalogue_problems(mutants)
    for p in problems:
        print(f"mutants: {p}", file=sys.stderr)
    if len(mutants) < 25:
        print(f"mutants: only {len(mutants)} mutants in the catalogue (issue 18 asks for at least 25)", file=sys.stderr)
        problems.append("too few")
    per_node = {n: sum(m.get("node") == n for m in mutants) for n in NODES}
    print(f"mutants: {len(mutants)} in the catalogue ({', '.join(f'{n} {c}' for n, c in per_node.items())}), "
          f"every patch applies: {'yes' if not problems else 'NO'}")
    return 1 if problems else 0


def cmd_run(args) -> int:
    mutants = load_catalogue()
    problems = catalogue_problems(mutants)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    if args.only:
        unknown = set(args.only) - {m["id"] for m in mutants}
        if unknown:
            print(f"unknown mutant(s): {sorted(unknown)}", file=sys.stderr)
            return 2
        mutants = [m for m in mutants if m["id"] in args.only]
    if args.node:
        mutants = [m for m in mutants if m["node"] in args.node]
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    prev = out / "results.json"
    results = json.loads(prev.read_text()) if prev.is_file() and not args.fresh else {"mutants": {}, "baseline": {}}
    tree = Path(args.tree)
    tree.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    if args.baseline_repeat > 0:
        for node in sorted({m["node"] for m in mutants}):
            scen = sorted({s for m in mutants if m["node"] == node for s in m["scenarios"]})
            b = judge_baseline(node, scen, args, out)
            results["baseline"][node] = b
            print(f"baseline {node:<5} {b['case_runs']} case runs, {len(b['false_fails'])} false fail(s), exit {b['exit']} ({b['seconds']} s)", flush=True)
            write_results(results, out)
    for m in [] if args.baseline_only else mutants:
        rec = judge_mutant(m, args, tree, out)
        results["mutants"][m["id"]] = rec
        extra = rec.get("detail") or f"{', '.join(rec.get('failing_clauses', [])) or '-'} [{rec.get('reason_match', '')}]"
        print(f"{rec['outcome']:<8} {m['id']:<36} {m['clause']:<14} build {rec['build_seconds']} s, certify {rec.get('certify_seconds', '-')} s  {extra}", flush=True)
        write_results(results, out)
    wall = round(time.monotonic() - t0, 1)
    results.setdefault("runs", []).append({"argv": sys.argv[1:], "mutants": [m["id"] for m in mutants], "wall_seconds": wall,
                                           "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    write_results(results, out)
    s = results["summary"]
    ratio = f"{100 * s['kill_ratio']:.1f} %" if s["kill_ratio"] is not None else "n/a"
    print(f"mutants: {s['killed']} killed, {s['survived']} survived, {s['errors']} error; kill ratio {ratio}; "
          f"unmutated false fails {s['baseline_false_fails']} of {s['baseline_case_runs']} case runs; "
          f"wall {wall} s; {out / 'results.md'}")
    return 0 if s["survived"] == 0 and s["errors"] == 0 and s["baseline_false_fails"] == 0 else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("check", help="catalogue well-formed and every patch applies (no builds)")
    r = sub.add_parser("run", help="build and certify mutants, judge the unmutated nodes alongside")
    r.add_argument("--only", nargs="+", metavar="ID", help="only these mutants")
    r.add_argument("--node", nargs="+", choices=NODES, help="only mutants of these nodes")
    r.add_argument("--repeat", type=int, default=1, help="certify --repeat for each mutant (default 1)")
    r.add_argument("--baseline-repeat", type=int, default=3, help="runs per case of the unmutated nodes (0: skip)")
    r.add_argument("--baseline-only", action="store_true", help="judge only the unmutated nodes (on the selected mutants' scenarios)")
    r.add_argument("-j", "--jobs", type=int, default=2, help="certify -j")
    r.add_argument("--out", type=Path, default=ROOT / "reports/mutants", help="results directory (merged by mutant id)")
    r.add_argument("--fresh", action="store_true", help="start a new results table instead of merging")
    r.add_argument("--tree", default=os.path.join(tempfile.gettempdir(), "ekconform-mutants-tree"),
                   help="scratch copy of the repository the patches are applied to (kept for incremental builds)")
    r.add_argument("--ekconform", default=str(ROOT / os.environ.get("CARGO_TARGET_DIR", "target") / "debug/ekconform"))
    args = p.parse_args()
    return cmd_check(args) if args.cmd == "check" else cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
