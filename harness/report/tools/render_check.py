#!/usr/bin/env python3
"""Checks that the HTML report renders in headless Chromium.

Writes a synthetic run (the checkers' model executions as real pcaps, some with a malformed
frame), renders it with `ekconform report`, then loads the index and one failing case page in
headless Chromium: the DOM (--dump-dom) must contain the matrix, the failure table, both plots
as SVG and the message sequence chart; the screenshot (--screenshot) must be a non-blank PNG in
which the matrix's pass (green) and fail colours actually appear. Screenshots are kept in
OUT_DIR (default target/report-render) for people to look at.
"""
import os, re, shutil, struct, subprocess, sys, tempfile, zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    if out.returncode != 0:
        raise SystemExit(f"FAIL {' '.join(cmd[:4])}...: exit {out.returncode}\n{out.stderr[-2000:]}")
    return out.stdout


def png_pixels(path):
    """Decodes an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes) into rows of pixels."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, f"unexpected PNG format {depth}/{ctype}"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    while i < len(raw):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return [[tuple(r[x:x + 3]) for x in range(0, len(r), bpp)] for r in rows]


def main():
    browser = chromium()
    if not browser:
        print("chromium is not installed (Debian package chromium; tools/setup.sh installs it)", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "report-render")
    os.makedirs(out_dir, exist_ok=True)
    checks = []
    with tempfile.TemporaryDirectory() as d:
        run_dir = os.path.join(d, "run")
        run(["cargo", "run", "--quiet", "-p", "ekc-report", "--example", "synth_run", "--", run_dir, "2"], cwd=ROOT)
        run(["cargo", "run", "--quiet", "-p", "ekconform", "--", "report", run_dir], cwd=ROOT)
        index = os.path.join(run_dir, "html", "index.html")
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                 f"--user-data-dir={os.path.join(d, 'profile')}"]
        dom = run([browser, *flags, "--dump-dom", "file://" + index])
        checks.append(("DOM has the matrix", '<table id="matrix">' in dom and "rust+go" in dom))
        checks.append(("DOM has the failure table with a clause", re.search(r'<table id="failures">.*KOR-', dom, re.S) is not None))
        checks.append(("DOM has both plots as SVG", re.search(r'id="commit-latency"><svg', dom) is not None and re.search(r'id="gossip-reach"><svg', dom) is not None))
        m = re.search(r'<a href="(cases/\d+\.html)">[^<]*</a></td><td class="fail">', dom)
        checks.append(("a failing case is linked", m is not None))
        if m:
            case_dom = run([browser, *flags, "--dump-dom", "file://" + os.path.join(run_dir, "html", m.group(1))])
            checks.append(("case page has the sequence chart with a flagged frame", 'class="msc"' in case_dom and 'class="flagged"' in case_dom))
            run([browser, *flags, "--window-size=1400,1600", f"--screenshot={os.path.join(out_dir, 'case.png')}", "file://" + os.path.join(run_dir, "html", m.group(1))])
        shot = os.path.join(out_dir, "index.png")
        run([browser, *flags, "--window-size=1400,1600", f"--screenshot={shot}", "file://" + index])
        px = png_pixels(shot)
        flat = [p for row in px[::4] for p in row[::4]]
        nonwhite = sum(1 for p in flat if p != (255, 255, 255)) / len(flat)
        near = lambda c, t: all(abs(a - b) <= 6 for a, b in zip(c, t))
        checks.append((f"screenshot is not blank ({nonwhite:.1%} non-white)", 0.03 < nonwhite < 0.95))
        checks.append(("pass colour (#d8f0d8) rendered", any(near(p, (0xd8, 0xf0, 0xd8)) for p in flat)))
        checks.append(("fail colour (#f6caca) rendered", any(near(p, (0xf6, 0xca, 0xca)) for p in flat)))
    failed = [n for n, ok in checks if not ok]
    for n, ok in checks:
        print(("ok   " if ok else "FAIL ") + n)
    print(f"{len(checks) - len(failed)} passed, {len(failed)} failed (screenshots in {out_dir})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
