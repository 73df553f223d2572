#!/usr/bin/env bash
# test-report-render.sh: `llmbench report` on real small runs made here
# plus the synthetic decode fixture (tests/report-data): md, csv, html and
# json outputs checked by tests/report-render-check.py against the input
# JSON; hostile strings escaped; bad input exits 2 with one line; gnuplot
# PNG/SVG charts exist and are non-trivial (or, without gnuplot on PATH,
# the tables still come out and say the charts were skipped).
# The headless-browser check is tests/test-report-browser.sh.
set -euo pipefail
: "${LLMBENCH:?set LLMBENCH to the llmbench binary}"
: "${LB_SOURCE_DIR:?set LB_SOURCE_DIR to the source tree}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check="python3 $LB_SOURCE_DIR/tests/report-render-check.py"
fixture="$LB_SOURCE_DIR/tests/report-data/synthetic-decode.json"
fail() { echo "FAIL: $*"; exit 1; }

# real runs, small: own ceilings cache so nothing depends on the machine's
export LLMBENCH_CACHE_DIR="$tmp/cache"
mkdir -p "$LLMBENCH_CACHE_DIR"
"$LLMBENCH" run --suite ceilings --threads 1,2 --size 16M --budget 4 -q -o "$tmp/c.json" >/dev/null
"$LLMBENCH" run --suite gemv --quant q4_0 --shape 256x1024 --size 1M,4M --threads 1,2 --budget 4 -q \
  -o "$tmp/g.json" >/dev/null || true   # exit 1 = a failed case; still a report to render
"$LLMBENCH" run --suite attention --ctx 1024 --kv-type f16 --heads 8/2/64 --threads 1,2 --budget 3 -q \
  -o "$tmp/a.json" >/dev/null || true
for f in c g a; do [ -s "$tmp/$f.json" ] || fail "run did not write $f.json"; done
runs=("$tmp/c.json" "$tmp/g.json" "$tmp/a.json" "$fixture")

# md / csv / json
"$LLMBENCH" report "${runs[@]}" > "$tmp/r.md"
$check md "$tmp/r.md" "${runs[@]}"
grep -q '^## Ceilings' "$tmp/r.md" || fail "md has no ceilings section"
grep -q 'median (' "$tmp/r.md" || fail "md headers carry no time unit"
grep -q 'bandwidth (GB/s)' "$tmp/r.md" || fail "md headers carry no GB/s unit"
"$LLMBENCH" report "${runs[@]}" --format csv -o "$tmp/r.csv"
$check csv "$tmp/r.csv" "${runs[@]}"
"$LLMBENCH" report "${runs[@]}" --format=json -o "$tmp" # a directory: report.json inside
python3 - "$tmp/report.json" "${runs[@]}" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
assert b["format"] == "llmbench-report-bundle", b.get("format")
assert [r["tag"] for r in b["runs"]] == ["R%d" % (i + 1) for i in range(len(sys.argv) - 2)]
def same(x, y, path):
    # cJSON prints doubles with 15 significant digits: equal within 1e-14
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        assert abs(x - y) <= 1e-14 * max(abs(x), abs(y)), path
    elif isinstance(x, dict):
        assert x.keys() == y.keys(), path
        for k in x: same(x[k], y[k], path + "." + k)
    elif isinstance(x, list):
        assert len(x) == len(y), path
        for i, (u, v) in enumerate(zip(x, y)): same(u, v, "%s[%d]" % (path, i))
    else:
        assert x == y, path
for r, p in zip(b["runs"], sys.argv[2:]):
    same(r["report"], json.load(open(p)), p)
PY

# html: self-contained, charts present (decode, gemv, attention, threads, roofline)
"$LLMBENCH" report "${runs[@]}" --format html -o "$tmp/r.html"
$check html "$tmp/r.html" 5
for id in machine ceilings decode gemv attention threads roofline tables; do
  grep -q "<section id=\"$id\">" "$tmp/r.html" || fail "html has no $id section"
done
# a section without data says so instead of an empty chart
"$LLMBENCH" report "$tmp/c.json" --format html -o "$tmp/c.html"
grep -q 'No results of this kind' "$tmp/c.html" || fail "empty decode section not reported"

# hostile strings: a report is untrusted input
python3 - "$fixture" "$tmp/hostile.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["environment"]["hostname"] = '"><img src=x onerror=alert(1)>'
r = d["results"][0]
r["params"]["quant"] = "<script>alert(1)</script>"
r["params"]["model"] = 'a,b "quoted" | pipe\nnewline `touch PWNED` $(touch PWNED) system("touch PWNED")'
r["metrics"].append({"name": "evil</svg><script>x</script>", "value": 1.0, "unit": "<b>u|,\"</b>"})
d["results"][1]["reason"] = "<iframe src=http://example.invalid/>"
json.dump(d, open(sys.argv[2], "w"))
PY
"$LLMBENCH" report "$tmp/hostile.json" --format html -o "$tmp/h.html"
$check html-untrusted "$tmp/h.html" 2
for s in '<script>' '<img src=x' '<iframe' '</svg><script>'; do $check escaped "$tmp/h.html" "$s"; done
grep -q '&lt;script&gt;alert(1)&lt;/script&gt;' "$tmp/h.html" || fail "escaped param value not shown as text"
"$LLMBENCH" report "$tmp/hostile.json" -o "$tmp/h.md"
$check md "$tmp/h.md" "$tmp/hostile.json"
$check escaped "$tmp/h.md" '<script>'
"$LLMBENCH" report "$tmp/hostile.json" --format csv -o "$tmp/h.csv"
$check csv "$tmp/h.csv" "$tmp/hostile.json"

# bad input: exit 2, one line on stderr, nothing written
expect2() {
  local rc=0
  "$LLMBENCH" report "$@" -o "$tmp/bad.out" > /dev/null 2> "$tmp/err" || rc=$?
  [ "$rc" -eq 2 ] || fail "report $* exited $rc, expected 2"
  [ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "report $* printed $(wc -l < "$tmp/err") lines: $(cat "$tmp/err")"
  [ ! -e "$tmp/bad.out" ] || fail "report $* left an output behind"
}
echo '{"schema_version": 1, "results": [' > "$tmp/trunc.json"
echo '{"schema_version": 99, "results": []}' > "$tmp/v99.json"
echo '{"schema_version": 1, "results": {}}' > "$tmp/noarr.json"
echo '{"schema_version": 1, "results": [{"suite": "x"}]}' > "$tmp/nobench.json"
expect2 "$tmp/missing.json"
expect2 "$tmp/trunc.json"
expect2 "$tmp/v99.json"
expect2 "$tmp/noarr.json"
expect2 "$tmp/nobench.json"
expect2 "$tmp/c.json" --format pdf
expect2 "$tmp/c.json" --bogus
expect2
rc=0; "$LLMBENCH" report "$tmp/c.json" -o "$tmp/no/such/dir/r.md" 2>/dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "writing into a missing directory succeeded"
"$LLMBENCH" report help >"$tmp/help.txt" && grep -q 'usage: llmbench report' "$tmp/help.txt" || fail "report help"

# gnuplot missing: tables still come out, the output says why charts were skipped
PATH=/nonexistent "$LLMBENCH" report "${runs[@]}" --charts "$tmp/nochart" -o "$tmp/np.md" 2>/dev/null
grep -q 'charts skipped: gnuplot not found' "$tmp/np.md" || fail "md does not say charts were skipped"
$check md "$tmp/np.md" "${runs[@]}"

# gnuplot charts
if ! command -v gnuplot > /dev/null; then
  echo "skipped: gnuplot not installed (PNG/SVG charts)"
  exit 77
fi
"$LLMBENCH" report "${runs[@]}" "$tmp/hostile.json" --charts "$tmp/charts" -o "$tmp/ch.md"
grep -q 'charts: 14 files written' "$tmp/ch.md" || fail "chart note: $(grep charts "$tmp/ch.md")"
for id in decode-tg decode-pp decode-depth gemv-bw attention-bw threads roofline; do
  $check png "$tmp/charts/$id.png" 8000
  $check svg "$tmp/charts/$id.svg"
done
[ ! -e PWNED ] && [ ! -e "$tmp/charts/PWNED" ] || fail "a report string ran a command through gnuplot"
[ -z "$(ls -A "$tmp/charts" | grep -v -E '\.(png|svg)$')" ] || fail "temp files left in charts dir"
echo "report render: all checks passed"
