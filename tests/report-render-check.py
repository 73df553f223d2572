#!/usr/bin/env python3
"""report-render-check.py: independent checks of `llmbench report` output
for tests/test-report-render.sh and tests/test-report-browser.sh.

Each subcommand exits 0 when the check holds and prints one line saying
what failed otherwise. The reference values come from the input JSON
reports read here with Python's json module, not from llmbench's code.

  csv OUT.csv RUN.json...        rows = results; same field count on every
                                 row; median (ns) and params equal the JSON
  md OUT.md RUN.json...          every table row has its header's cell count;
                                 one row per result
  html OUT.html N_MIN_SVG        self-contained: no scripts, no remote or
                                 local fetches; >= N_MIN_SVG inline SVGs,
                                 each well-formed XML
  html-untrusted OUT.html N      the same, but URLs may appear as text
  escaped OUT.html|OUT.md TEXT   TEXT does not appear raw
  svg FILE                       parses as XML with an <svg> root
  png FILE MIN_BYTES             PNG magic, IHDR size > 100x100, size
  shot FILE MIN_COLORED          screenshot: decodes the PNG (zlib +
                                 filters) and counts saturated pixels, which
                                 only the charts draw (tables are grey)
"""
import csv
import html.parser
import json
import re
import struct
import sys
import xml.etree.ElementTree as ET
import zlib


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def results(paths):
    out = []
    for p in paths:
        with open(p) as f:
            out.extend(json.load(f)["results"])
    return out


def param_text(v):
    if isinstance(v, str):
        return v
    # llmbench prints numbers with %.10g
    return ("%.10g" % v)


def check_csv(out, paths):
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    for i, r in enumerate(body):
        if len(r) != len(head):
            fail("csv row %d has %d fields, header has %d" % (i + 1, len(r), len(head)))
    res = results(paths)
    if len(body) != len(res):
        fail("csv has %d rows, inputs have %d results" % (len(body), len(res)))
    col = {h: k for k, h in enumerate(head)}
    for need in ("median (ns)", "suite", "bench", "status"):
        if need not in col:
            fail("csv header lacks '%s': %s" % (need, head))
    for i, (row, r) in enumerate(zip(body, res)):
        if row[col["suite"]] != r["suite"] or row[col["bench"]] != r["bench"]:
            fail("csv row %d is %s/%s, expected %s/%s" % (i + 1, row[col["suite"]], row[col["bench"]],
                                                         r["suite"], r["bench"]))
        med = r.get("stats", {}).get("median_ns")
        cell = row[col["median (ns)"]]
        if med is None:
            if cell != "":
                fail("csv row %d: median '%s' for a result without stats" % (i + 1, cell))
        elif abs(float(cell) - med) > 1e-6 * med:
            fail("csv row %d: median %s, JSON says %r" % (i + 1, cell, med))
        for k, v in r["params"].items():
            h = "param " + k
            if h not in col:
                fail("csv lacks column '%s'" % h)
            if row[col[h]] != param_text(v):
                fail("csv row %d: %s = %r, JSON says %r" % (i + 1, h, row[col[h]], v))
        for m in r.get("metrics", []):
            h = "%s (%s)" % (m["name"], m["unit"] or "1")
            if h not in col:
                fail("csv lacks metric column '%s'" % h)
            if m["value"] is not None and abs(float(row[col[h]]) - m["value"]) > 1e-6 * abs(m["value"]) + 1e-12:
                fail("csv row %d: %s = %s, JSON says %r" % (i + 1, h, row[col[h]], m["value"]))


def md_cells(line):
    # split on pipes not escaped with a backslash
    cells, cur, esc = [], "", False
    for ch in line.strip():
        if esc:
            cur += ch
            esc = False
        elif ch == "\\":
            cur += ch
            esc = True
        elif ch == "|":
            cells.append(cur)
            cur = ""
        else:
            cur += ch
    cells.append(cur)
    return cells[1:-1]  # leading and trailing pipe


def check_md(out, paths):
    with open(out) as f:
        lines = f.read().split("\n")
    n_rows = 0
    i = 0
    in_results = False
    while i < len(lines):
        if lines[i].startswith("## Results"):
            in_results = True
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|(-+:?\|)+$", lines[i + 1]):
            ncol = len(md_cells(lines[i]))
            if len(md_cells(lines[i + 1])) != ncol:
                fail("md separator line %d has the wrong cell count" % (i + 2))
            j = i + 2
            while j < len(lines) and lines[j].startswith("|"):
                if len(md_cells(lines[j])) != ncol:
                    fail("md line %d has %d cells, its header %d: %s" % (j + 1, len(md_cells(lines[j])), ncol, lines[j]))
                if in_results:
                    n_rows += 1
                j += 1
            i = j
            continue
        i += 1
    if n_rows != len(results(paths)):
        fail("md result tables have %d rows, inputs have %d results" % (n_rows, len(results(paths))))


class Scan(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.bad = []
        self.svgs = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "link", "iframe", "object", "embed", "img", "image", "use", "base"):
            self.bad.append("<%s>" % tag)
        if tag == "svg":
            self.svgs += 1
        for k, v in attrs:
            v = v or ""
            if k.startswith("on"):
                self.bad.append("%s= on <%s>" % (k, tag))
            if k in ("src", "href", "xlink:href", "action", "data", "srcset"):
                self.bad.append("%s=%r on <%s>" % (k, v, tag))


def check_html(out, min_svg, strict=True):
    with open(out) as f:
        text = f.read()
    s = Scan()
    s.feed(text)
    if s.bad:
        fail("html has external references or active content: %s" % s.bad[:5])
    # the only URL allowed is the SVG namespace (an identifier, never fetched)
    # (a hostile report may carry a URL as text: there it is checked to be
    # inert by the tag/attribute scan above, not by this text search)
    urls = [u for u in re.findall(r"(?:https?|ftp|file|data):[^\s\"'<>)]*", text)
            if u != "http://www.w3.org/2000/svg"]
    if urls and strict:
        fail("html mentions URLs: %s" % urls[:5])
    for m in re.findall(r"url\(([^)]*)\)", text):
        if not m.startswith("#"):
            fail("html has url(%s)" % m)
    if "@import" in text:
        fail("html has @import")
    if s.svgs < min_svg:
        fail("html has %d inline svg charts, expected at least %d" % (s.svgs, min_svg))
    for k, svg in enumerate(re.findall(r"<svg.*?</svg>", text, re.S)):
        try:
            ET.fromstring(svg)
        except ET.ParseError as e:
            fail("inline svg %d is not well-formed XML: %s" % (k + 1, e))


def check_escaped(out, needle):
    with open(out) as f:
        text = f.read()
    if needle in text:
        fail("%s contains the raw string %r" % (out, needle))


def check_svg(path):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail("%s is not well-formed XML: %s" % (path, e))
    if not root.tag.endswith("svg"):
        fail("%s root is <%s>, not <svg>" % (path, root.tag))


def png_read(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("%s is not a PNG" % path)
    pos, idat, ihdr = 8, b"", None
    while pos + 8 <= len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    if not ihdr:
        fail("%s has no IHDR" % path)
    return data, ihdr, idat


def check_png(path, min_bytes):
    data, ihdr, _ = png_read(path)
    w, h = ihdr[0], ihdr[1]
    if w < 100 or h < 100:
        fail("%s is only %dx%d" % (path, w, h))
    if len(data) < min_bytes:
        fail("%s is %d bytes, expected > %d" % (path, len(data), min_bytes))
    print("%s: %dx%d, %d bytes" % (path, w, h, len(data)))


def check_shot(path, min_colored):
    _, ihdr, idat = png_read(path)
    w, h, depth, ctype = ihdr[0], ihdr[1], ihdr[2], ihdr[3]
    if depth != 8 or ctype not in (2, 6):
        fail("%s: unexpected PNG format depth %d color type %d" % (path, depth, ctype))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    colored = 0
    nonwhite = 0
    pos = 0
    for y in range(h):
        ft = raw[pos]
        line = bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        if ft == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif ft == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 255
        elif ft == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif ft == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 255
        # sample every 2nd pixel: enough to see bars and lines
        for x in range(0, w, 2):
            o = x * bpp
            r, g, bl = line[o], line[o + 1], line[o + 2]
            if r < 245 or g < 245 or bl < 245:
                nonwhite += 1
            if max(r, g, bl) - min(r, g, bl) > 80:
                colored += 1
        prev = line
    print("%s: %dx%d, %d sampled non-white pixels, %d saturated (chart) pixels" % (path, w, h, nonwhite, colored))
    if colored < min_colored:
        fail("%s: only %d saturated pixels, expected >= %d: charts did not render" % (path, colored, min_colored))


def main():
    if len(sys.argv) < 3:
        fail("usage: report-render-check.py csv|md|html|escaped|svg|png|shot ...")
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "csv":
        check_csv(args[0], args[1:])
    elif cmd == "md":
        check_md(args[0], args[1:])
    elif cmd == "html":
        check_html(args[0], int(args[1]))
    elif cmd == "html-untrusted":
        check_html(args[0], int(args[1]), strict=False)
    elif cmd == "escaped":
        check_escaped(args[0], args[1])
    elif cmd == "svg":
        check_svg(args[0])
    elif cmd == "png":
        check_png(args[0], int(args[1]))
    elif cmd == "shot":
        check_shot(args[0], int(args[1]))
    else:
        fail("unknown check " + cmd)


if __name__ == "__main__":
    main()
