#!/usr/bin/env bash
# test-e2e.sh: `llmbench run --suite ceilings` on a small budget end to
# end: exit 0, progress and the final table on stdout, a report that
# validates against the schema, ceilings for every thread count, the
# ceilings cache written, and a seed that fixes the case order.
set -u
: "${LLMBENCH:?}" "${LB_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LLMBENCH_CACHE_DIR="$tmp/cache"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
validate() { /usr/bin/python3 "$LB_SOURCE_DIR/tests/validate-report.py" "$1" "$LB_SOURCE_DIR/reports/schema/report.schema.json"; }

"$LLMBENCH" run --suite ceilings --size 256M --budget 15 --seed 7 -o "$tmp/a.json" >"$tmp/a.out" 2>"$tmp/a.err"
rc=$?
[ "$rc" -eq 0 ] && ok || { bad "ceilings run exited $rc"; cat "$tmp/a.err"; }
grep -q '^\[ *1/' "$tmp/a.out" && ok || bad "no progress lines"
grep -q "^report: $tmp/a.json" "$tmp/a.out" && ok || bad "no report path line"
grep -qE '^read +threads=1' "$tmp/a.out" && ok || bad "no final table row for read"
validate "$tmp/a.json" && ok || bad "report does not validate"
ls "$tmp"/cache/ceilings-*.json >/dev/null 2>&1 && ok || bad "ceilings cache not written"

/usr/bin/python3 - "$tmp/a.json" "$(nproc)" <<'PY' && ok || bad "report content"
import json, sys
r = json.load(open(sys.argv[1])); n = int(sys.argv[2])
res = r["results"]
benches = {x["bench"] for x in res}
assert {"read", "read_plain", "copy", "triad", "fma", "dot8"} <= benches, benches
assert all(x["status"] == "ok" for x in res), [(x["bench"], x["reason"]) for x in res if x["status"] != "ok"]
rows = {row["threads"]: row for row in r["ceilings"]["rows"]}
threads = sorted({x["params"]["threads"] for x in res})
assert sorted(rows) == threads, (rows.keys(), threads)
assert threads[-1] == n, threads
for t, row in rows.items():
    for k in ("read_gbs", "copy_gbs", "triad_gbs", "fma_gflops", "dot8_gops"):
        assert row[k] and row[k] > 0, (t, k, row[k])
# the read ceiling is the best read variant, and each variant is quoted against it
for x in res:
    if x["bench"] in ("read", "read_plain"):
        m = {mm["name"]: mm for mm in x["metrics"]}
        assert m["bandwidth"]["unit"] == "GB/s"
        assert 0 < m["pct_of_ceiling"]["value"] <= 100.0 + 1e-9, m
        assert m["bandwidth"]["value"] <= rows[x["params"]["threads"]]["read_gbs"] + 1e-9
    # bytes per call match the declared size (read: 1 array, copy: 2, triad: 3)
    if x["bench"] in ("read", "copy", "triad"):
        mult = {"read": 1, "copy": 2, "triad": 3}[x["bench"]]
        assert x["work"]["bytes_per_call"] == mult * x["params"]["size_bytes"], x["work"]
assert r["config"]["seed"] == 7
assert r["argv"][1] == "run"
PY

# same seed, same order; the order is a permutation recorded per result
"$LLMBENCH" run --suite pool --seed 11 --budget 2 -q -o "$tmp/b1.json" >/dev/null 2>&1
"$LLMBENCH" run --suite pool --seed 11 --budget 2 -q -o "$tmp/b2.json" >/dev/null 2>&1
/usr/bin/python3 - "$tmp/b1.json" "$tmp/b2.json" <<'PY' && ok || bad "seeded order not reproducible"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
key = lambda r: [(x["bench"], x["params"]["threads"]) for x in r["results"]]
assert key(a) == key(b)
assert sorted(x["run_index"] for x in a["results"]) == list(range(len(a["results"])))
PY
validate "$tmp/b1.json" >/dev/null && ok || bad "pool report does not validate"

# --paired-ceiling: every sample of a read-quoted case has its probe, the
# paired metrics agree with the raw samples, cases without a read ceiling
# get none
"$LLMBENCH" run --suite gemv --bench gemv --quant q4_0 --shape 256x4096 --threads 1 --case-budget 1 \
    --paired-ceiling -q -o "$tmp/p.json" >/dev/null 2>"$tmp/p.err" && ok || { bad "paired run failed"; cat "$tmp/p.err"; }
validate "$tmp/p.json" >/dev/null && ok || bad "paired report does not validate"
/usr/bin/python3 - "$tmp/p.json" <<'PY' && ok || bad "paired metrics"
import json, sys, statistics
r = json.load(open(sys.argv[1]))
(x,) = r["results"]
m = {mm["name"]: mm["value"] for mm in x["metrics"]}
ps, ts = x["probe_gbs"], x["samples_ns"]
assert len(ps) == len(ts) and all(p > 0 for p in ps), ps
b = x["work"]["bytes_per_call"]
want = 100 * statistics.median(b / t / p for t, p in zip(ts, ps))
assert abs(m["pct_of_ceiling_paired"] - want) <= 1e-6 * want, (m, want)
assert abs(m["ceiling_paired"] - statistics.median(ps)) <= 1e-9 * m["ceiling_paired"]
PY

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
