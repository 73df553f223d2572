#!/usr/bin/env bash
# test-generate.sh: `llmbench model generate` end to end: greedy ids as the
# last stdout line, --logits as raw float32 whose argmax is the last id, the
# same output from a synthesized GGUF file and from the profile it was
# synthesized from (same seed and quant: the file path and the in-memory
# path decode the same weights), deterministic across runs, and bad input
# exits 2 with one line, leaving no logits file behind.
set -u
: "${LLMBENCH:?}" "${LB_SOURCE_DIR:?}"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "skipped: no /usr/bin/python3"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# a small Qwen2.5-0.5B-shaped model: 2 layers, 2000 tokens (sources kept)
"$PY" - "$LB_SOURCE_DIR/profiles/models/qwen2.5-0.5b.json" "$tmp/tiny-qwen2.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["name"] = "tiny-qwen2"; p["n_layer"] = 2; p["vocab_size"] = 2000
json.dump(p, open(sys.argv[2], "w"))
EOF
"$LLMBENCH" model synth --model "$tmp/tiny-qwen2.json" --quant q8_0 --seed 5 -o "$tmp/m.gguf" >/dev/null 2>"$tmp/err" &&
  ok || bad "synth: $(cat "$tmp/err")"

gen() { # OUT ARGS...: runs generate, stdout to OUT.out
  local out=$1; shift
  "$LLMBENCH" model generate "$@" >"$out.out" 2>"$out.err"
}
gen "$tmp/a" --model "$tmp/m.gguf" --tokens 1,5,9 --n 8 --logits "$tmp/a.bin" --threads 2 &&
  ok || bad "generate from file: $(cat "$tmp/a.err")"
last=$(tail -n 1 "$tmp/a.out")
echo "$last" | grep -qE '^[0-9]+(,[0-9]+){7}$' && ok || bad "last line is not 8 ids: '$last'"
# logits: 2000 float32, finite, argmax = the last generated id
"$PY" - "$tmp/a.bin" "$last" <<'EOF' && ok || bad "logits file"
import math, struct, sys
b = open(sys.argv[1], "rb").read()
assert len(b) == 2000 * 4, len(b)
v = struct.unpack("<2000f", b)
assert all(math.isfinite(x) for x in v)
ids = [int(t) for t in sys.argv[2].split(",")]
best = max(range(len(v)), key=lambda i: (v[i], -i))
assert best == ids[-1], (best, ids[-1])
assert max(v) - min(v) > 0, "constant logits"
EOF
# deterministic, and the profile synthesized in memory equals the file
gen "$tmp/b" --model "$tmp/m.gguf" --tokens 1,5,9 --n 8 --logits "$tmp/b.bin" --threads 2 &&
  [ "$(tail -n 1 "$tmp/b.out")" = "$last" ] && cmp -s "$tmp/a.bin" "$tmp/b.bin" && ok ||
  bad "two runs differ"
gen "$tmp/c" --model "$tmp/tiny-qwen2.json" --quant q8_0 --seed 5 --tokens 1,5,9 --n 8 \
    --logits "$tmp/c.bin" --threads 2 &&
  [ "$(tail -n 1 "$tmp/c.out")" = "$last" ] && cmp -s "$tmp/a.bin" "$tmp/c.bin" && ok ||
  bad "profile in memory and its GGUF file differ: $(tail -n 1 "$tmp/c.out") vs $last $(cat "$tmp/c.err")"
# another seed: other weights, other logits
gen "$tmp/d" --model "$tmp/tiny-qwen2.json" --quant q8_0 --seed 6 --tokens 1,5,9 --n 8 \
    --logits "$tmp/d.bin" --threads 2 && ! cmp -s "$tmp/a.bin" "$tmp/d.bin" && ok || bad "seed ignored"

# ---- bad input -----------------------------------------------------------------
expect_error() { # PATTERN ARGS...
  local pattern=$1; shift
  "$LLMBENCH" model generate "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$? lines; lines=$(wc -l <"$tmp/err")
  if [ "$rc" -eq 2 ] && grep -qE -- "$pattern" "$tmp/err" && [ "$lines" -eq 1 ]; then ok
  else bad "generate $* -> rc=$rc, stderr ($lines lines): $(cat "$tmp/err")"; fi
}
M=$tmp/m.gguf
expect_error "--model is required" --tokens 1 --n 2
expect_error "--tokens is required" --model "$M" --n 2
expect_error "--n is required" --model "$M" --tokens 1
expect_error "--n '0': expected 1 to" --model "$M" --tokens 1 --n 0
expect_error "--tokens '1,,2': expected" --model "$M" --tokens 1,,2 --n 2
expect_error "--tokens '-3': expected" --model "$M" --tokens -3 --n 2
expect_error "id 2000 is outside the vocabulary \[0, 2000\)" --model "$M" --tokens 1,2000 --n 2 --logits "$tmp/x.bin"
expect_error "--quant 'q9': accepted weight formats" --model "$M" --tokens 1 --n 2 --quant q9
expect_error "--kv-type 'q4_0': accepted cache types" --model "$M" --tokens 1 --n 2 --kv-type q4_0
expect_error "unknown option '--frob'" --model "$M" --tokens 1 --n 2 --frob 1
expect_error "no-such.gguf" --model "$tmp/no-such.gguf" --tokens 1 --n 2 --logits "$tmp/x.bin"
expect_error "no/such/dir/x.bin" --model "$M" --tokens 1 --n 2 --logits "$tmp/no/such/dir/x.bin"
[ -e "$tmp/x.bin" ] && bad "a failed generate left its logits file" || ok
# a GGUF file ignores --quant: one decode case per file, labeled with the
# file's own type, however many --quant values were given
"$LLMBENCH" run --suite decode --bench tg --model "$tmp/m.gguf" --quant q4_0,q6_k --depth 0 \
    --n-gen 4 --threads 1 --case-budget 0.5 -q -o "$tmp/d.json" >/dev/null 2>"$tmp/err" &&
  "$PY" - "$tmp/d.json" <<'EOF' && ok || bad "decode of a GGUF file: $(cat "$tmp/err")"
import json, sys
res = json.load(open(sys.argv[1]))["results"]
assert [x["params"]["quant"] for x in res] == ["q8_0"], [x["params"] for x in res]
assert res[0]["status"] == "ok", res[0]["reason"]
EOF
rm -rf "$tmp/d.json" "$tmp/d-charts"
left=$(ls -A "$tmp" | grep -vE '^(tiny-qwen2\.json|m\.gguf|[abcd]\.(out|err|bin)|out|err)$')
[ -z "$left" ] && ok || bad "left behind: $left"

echo "generate: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
