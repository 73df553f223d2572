#!/usr/bin/env bash
# test-decode.sh: the `decode` suite end to end on a small real model shape
# (Qwen2.5-0.5B, synthesized at q4_0): tg, pp and ttft results with tok/s,
# bytes per token, the roofline and the per-op time split; a report that
# validates; and tg at a synthetic depth against tg after a real prefill of
# the same depth (issue #6: the synthetic KV fill must not change the
# speed). That last check compares two medians of the same run: equal work
# (asserted exactly: same bytes per token) must give equal time within the
# run's noise, so the bound is wide (25%); a wrong fill (e.g. an empty or
# cache-resident cache) changes the time by far more at this depth only
# when attention is a visible share, which the op split shows.
set -u
: "${LLMBENCH:?}" "${LB_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LLMBENCH_CACHE_DIR="$tmp/cache"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
validate() { /usr/bin/python3 "$LB_SOURCE_DIR/tests/validate-report.py" "$1" "$LB_SOURCE_DIR/reports/schema/report.schema.json"; }

"$LLMBENCH" run --suite decode --model qwen2.5-0.5b --quant q4_0 --threads 2 --depth 0,1024 \
    --n-gen 16 --n-prompt 32 --kv-fill synthetic,prefill --case-budget 3 --seed 3 \
    -o "$tmp/d.json" >"$tmp/d.out" 2>"$tmp/d.err"
rc=$?
[ "$rc" -eq 0 ] && ok || { bad "decode run exited $rc"; cat "$tmp/d.err" "$tmp/d.out"; }
grep -q "^report: $tmp/d.json" "$tmp/d.out" && ok || bad "no report path line"
validate "$tmp/d.json" && ok || bad "report does not validate"
# the tok/s-per-quant chart through gnuplot, or a line saying why not
if command -v gnuplot >/dev/null; then
  [ -s "$tmp/d-charts/decode-tg.png" ] && [ -s "$tmp/d-charts/decode-tg.svg" ] && ok ||
    bad "no decode chart in $tmp/d-charts: $(grep charts "$tmp/d.out")"
  # two depths: tok/s over depth is charted too
  [ -s "$tmp/d-charts/decode-depth.png" ] && ok || bad "no tok/s-over-depth chart in $tmp/d-charts"
else
  grep -q "^charts skipped: gnuplot not found" "$tmp/d.out" && ok || bad "no 'charts skipped' line"
fi

/usr/bin/python3 - "$tmp/d.json" <<'PY' && ok || bad "report content"
import json, sys
r = json.load(open(sys.argv[1]))
res = r["results"]
bad = [(x["bench"], x["params"], x["reason"]) for x in res if x["status"] != "ok"]
assert not bad, bad
def m(x): return {mm["name"]: mm for mm in x["metrics"]}
benches = {x["bench"] for x in res}
assert benches == {"tg", "pp", "ttft"}, benches
for x in res:
    mm = m(x)
    for k in ("tok_s", "bytes_per_token", "roofline_tok_s", "pct_of_roofline",
              "op_matmul_pct", "op_attention_pct", "op_other_pct"):
        assert k in mm, (x["bench"], k, sorted(mm))
    assert mm["tok_s"]["unit"] == "tok/s" and mm["tok_s"]["value"] > 0
    split = sum(mm[k]["value"] for k in mm if k.startswith("op_") and k.endswith("_pct"))
    assert abs(split - 100) < 1e-6, split
    # tok/s against the roofline: same bytes per token over the ceiling
    assert abs(mm["pct_of_roofline"]["value"] - 100 * mm["tok_s"]["value"] / mm["roofline_tok_s"]["value"]) < 1e-6
    assert x["path"], "no code path recorded"
# weights dominate at depth 0; more KV is read at depth 1024
tg = {(x["params"]["depth"], x["params"]["kv_fill"]): x for x in res if x["bench"] == "tg"}
b0 = m(tg[(0, "synthetic")])["bytes_per_token"]["value"]
b1 = m(tg[(1024, "synthetic")])["bytes_per_token"]["value"]
assert b1 > b0, (b0, b1)
# same work for both fills (the speed is compared below)
syn, pre = tg[(1024, "synthetic")], tg[(1024, "prefill")]
assert m(syn)["bytes_per_token"]["value"] == m(pre)["bytes_per_token"]["value"]
PY

# synthetic fill vs a real prefill of the same depth: same work, same speed
# within the run's noise. This VM switches whole seconds between speed
# modes ~30% apart (docs/compare.md), so one pair of cases can land in
# different modes: up to three attempts, and a real difference (a fill
# that leaves the cache empty or cache-resident) fails all three.
speed_ok=0
for attempt in 1 2 3; do
  [ "$attempt" -gt 1 ] && "$LLMBENCH" run --suite decode --bench tg --model qwen2.5-0.5b --quant q4_0 \
      --threads 2 --depth 1024 --n-gen 16 --kv-fill synthetic,prefill --case-budget 3 -q \
      -o "$tmp/d.json" >/dev/null 2>&1
  if /usr/bin/python3 - "$tmp/d.json" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
tok = {x["params"]["kv_fill"]: [m["value"] for m in x["metrics"] if m["name"] == "tok_s"][0]
       for x in res if x["bench"] == "tg" and x["params"]["depth"] == 1024}
ratio = tok["synthetic"] / tok["prefill"]
print(f"tg16 at depth 1024: synthetic fill / real prefill tok/s = {ratio:.3f}")
sys.exit(0 if 0.8 < ratio < 1.25 else 1)
PY
  then speed_ok=1; break; fi
done
[ "$speed_ok" -eq 1 ] && ok || bad "tg after a synthetic fill differs from tg after a real prefill in 3 attempts"

# bad input: exit 2 with one line naming the value and what is accepted
"$LLMBENCH" run --suite decode --model no-such-model 2>"$tmp/e1" >/dev/null
[ $? -eq 2 ] && grep -q "no-such-model" "$tmp/e1" && ok || { bad "unknown model"; cat "$tmp/e1"; }
"$LLMBENCH" run --suite decode --quant q9_9 2>"$tmp/e2" >/dev/null
[ $? -eq 2 ] && grep -q "unknown --quant .q9_9. (accepted: " "$tmp/e2" && ok || { bad "unknown quant"; cat "$tmp/e2"; }
"$LLMBENCH" run --suite decode --kv-fill magic 2>"$tmp/e3" >/dev/null
[ $? -eq 2 ] && grep -q "synthetic, prefill" "$tmp/e3" && ok || { bad "unknown kv-fill"; cat "$tmp/e3"; }
printf 'GGUF\003\000\000\000\001' >"$tmp/trunc.gguf"
"$LLMBENCH" run --suite decode --model "$tmp/trunc.gguf" 2>"$tmp/e5" >/dev/null
[ $? -eq 2 ] && grep -q "trunc.gguf" "$tmp/e5" && ok || { bad "truncated gguf"; cat "$tmp/e5"; }
"$LLMBENCH" run --suite decode --model "$tmp/missing.gguf" 2>"$tmp/e4" >/dev/null
[ $? -eq 2 ] && grep -q "missing.gguf" "$tmp/e4" && ok || { bad "missing gguf"; cat "$tmp/e4"; }

echo "decode: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
