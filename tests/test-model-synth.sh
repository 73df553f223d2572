#!/usr/bin/env bash
# test-model-synth.sh: `llmbench model synth` writes GGUF files that an
# independent reader (tests/gguf-check.py, Python struct only) accepts, and
# `model info` reads them back; bad input exits 2 with one line naming the
# problem and what is accepted, and leaves no file behind.
#
# Files: llama-3.2-1b q4_0 with 2 layers (the real shape; ~210 MB, most of
# it the 128256 x 2048 embedding), and small qwen3moe / qwen2 / mixtral
# shapes derived from the shipped profiles (a 1-layer real Qwen3-30B-A3B is
# 700 MB) at K-quants and others.
set -u
: "${LLMBENCH:?}" "${LB_SOURCE_DIR:?}"
PY=/usr/bin/python3
CHECK="$LB_SOURCE_DIR/tests/gguf-check.py"
[ -x "$PY" ] || { echo "skipped: no /usr/bin/python3"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# small profiles: a shipped profile with the widths and vocabulary shrunk
# (its sources stay valid for the loader's coverage check)
shrink() { # SRC DST NAME key=value...
  local src=$1 dst=$2 name=$3; shift 3
  "$PY" - "$src" "$dst" "$name" "$@" <<'EOF'
import json, sys
src, dst, name = sys.argv[1:4]
p = json.load(open(src))
p["name"] = name
for kv in sys.argv[4:]:
    k, v = kv.split("=")
    o = p
    ks = k.split(".")
    for x in ks[:-1]:
        o = o[x]
    o[ks[-1]] = json.loads(v)
json.dump(p, open(dst, "w"))
EOF
}
M="$LB_SOURCE_DIR/profiles/models"
shrink "$M/qwen3-30b-a3b.json" "$tmp/tiny-qwen3moe.json" tiny-qwen3moe \
  n_layer=3 n_embd=512 n_head=8 n_head_kv=2 vocab_size=1000 moe.n_expert=8 moe.n_expert_used=2 moe.n_ff_expert=256
shrink "$M/qwen2.5-0.5b.json" "$tmp/tiny-qwen2.json" tiny-qwen2 n_layer=2 vocab_size=2000
shrink "$M/mixtral-8x7b.json" "$tmp/tiny-mixtral.json" tiny-mixtral \
  n_layer=2 n_embd=256 n_head=4 n_head_kv=2 head_dim=64 moe.n_ff_expert=512

# synth_ok NAME ARCH LAYERS TYPE ARGS...: synth, check with Python, info
synth_ok() {
  local f=$tmp/$1.gguf arch=$2 layers=$3 type=$4; shift 4
  if ! "$LLMBENCH" model synth "$@" -o "$f" >"$tmp/out" 2>"$tmp/err"; then
    bad "synth $*: $(cat "$tmp/err")"; return
  fi
  grep -q "^wrote $f" "$tmp/out" && ok || bad "synth $*: stdout $(cat "$tmp/out")"
  if "$PY" "$CHECK" "$f" --expect-arch "$arch" --expect-layers "$layers" --expect-type "$type"; then ok
  else bad "gguf-check.py $f"; fi
  if "$LLMBENCH" model info "$f" >"$tmp/info" 2>"$tmp/err"; then
    grep -q "^architecture: *$arch$" "$tmp/info" && grep -q "^layers: *$layers$" "$tmp/info" &&
      grep -qE "^quant: *$type\+?$" "$tmp/info" && grep -qE "^bytes_per_token: *[1-9]" "$tmp/info" &&
      grep -qE "^tensors: *[1-9]" "$tmp/info" && ok || { bad "info $f:"; cat "$tmp/info"; }
    # weight bytes = the tensor data the file holds (Python's count)
    local wb; wb=$(sed -n 's/^weight_bytes: *\([0-9]*\).*/\1/p' "$tmp/info")
    [ -n "$wb" ] && [ "$wb" -gt 0 ] && [ "$wb" -lt "$(stat -c %s "$f")" ] && ok || bad "weight_bytes $wb"
  else
    bad "info $f: $(cat "$tmp/err")"
  fi
  # the same arguments give the same bytes; another seed other bytes
  "$LLMBENCH" model synth "$@" -o "$tmp/again.gguf" >/dev/null 2>&1
  cmp -s "$f" "$tmp/again.gguf" && ok || bad "synth $* is not deterministic"
  rm -f "$f" "$tmp/again.gguf"
}

synth_ok llama llama 2 q4_0 --model llama-3.2-1b --quant q4_0 --layers 2
synth_ok qmoe qwen3moe 3 q4_k --model "$tmp/tiny-qwen3moe.json" --quant q4_k --seed 7
# Qwen2.5-0.5B is 896 wide, not a multiple of 256: q6_k falls back to q8_0
# (llama-quantize's rule) for every matrix but ffn_down (4864 = 19 x 256)
synth_ok qwen2 qwen2 2 q8_0 --model "$tmp/tiny-qwen2.json" --quant q6_k
synth_ok mixtral llama 2 q8_0 --model "$tmp/tiny-mixtral.json" --quant q8_0 --seed 3

# a different seed changes the weights
"$LLMBENCH" model synth --model "$tmp/tiny-qwen2.json" --quant q4_0 --seed 1 -o "$tmp/s1.gguf" >/dev/null &&
"$LLMBENCH" model synth --model "$tmp/tiny-qwen2.json" --quant q4_0 --seed 2 -o "$tmp/s2.gguf" >/dev/null &&
! cmp -s "$tmp/s1.gguf" "$tmp/s2.gguf" && ok || bad "seeds 1 and 2 give the same file"

# info on a profile: sized without allocating (Qwen3-235B would be 130 GB)
if "$LLMBENCH" model info qwen3-235b-a22b --quant q4_k >"$tmp/info" 2>"$tmp/err"; then
  grep -q "^architecture: *qwen3moe$" "$tmp/info" && grep -q "^layers: *94$" "$tmp/info" && ok || bad "info qwen3-235b-a22b"
else bad "info qwen3-235b-a22b: $(cat "$tmp/err")"; fi
"$LLMBENCH" model info gpt-oss-20b >"$tmp/info" 2>&1 && grep -q "^engine: *not supported: .*gpt-oss" "$tmp/info" && ok ||
  bad "info gpt-oss-20b should say the engine does not support it: $(cat "$tmp/info")"

# ---- bad input: exit 2, one line naming the problem and what is accepted ----
expect_error() { # PATTERN ARGS...
  local pattern=$1; shift
  "$LLMBENCH" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$? lines; lines=$(wc -l <"$tmp/err")
  if [ "$rc" -eq 2 ] && grep -qE -- "$pattern" "$tmp/err" && [ "$lines" -eq 1 ]; then ok
  else bad "llmbench $* -> rc=$rc, stderr ($lines lines): $(cat "$tmp/err")"; fi
}
out=$tmp/bad.gguf
expect_error "unknown model profile 'nope'.*available: .*llama-3.2-1b" model synth --model nope --quant q4_0 -o "$out"
expect_error "unknown --quant 'q4_9' \(accepted: f32, f16, q4_0.*q4_k" model synth --model llama-3.2-1b --quant q4_9 -o "$out"
expect_error "unknown --quant 'q8_k'" model synth --model llama-3.2-1b --quant q8_k -o "$out"
expect_error "missing -o FILE.gguf" model synth --model llama-3.2-1b --quant q4_0
expect_error "missing --quant TYPE \(accepted: " model synth --model llama-3.2-1b -o "$out"
expect_error "missing --model PROFILE" model synth --quant q4_0 -o "$out"
expect_error "bad --layers '0' \(accepted: 1 .. 16" model synth --model llama-3.2-1b --quant q4_0 --layers 0 -o "$out"
expect_error "bad --layers '17'" model synth --model llama-3.2-1b --quant q4_0 --layers 17 -o "$out"
expect_error "bad --seed 'x'" model synth --model llama-3.2-1b --quant q4_0 --seed x -o "$out"
expect_error "unknown option '--frob' \(accepted: --model" model synth --frob 1
expect_error "option --quant needs a value" model synth --model llama-3.2-1b --quant
expect_error "$tmp/no/such/dir/x.gguf" model synth --model "$tmp/tiny-qwen2.json" --quant q4_0 -o "$tmp/no/such/dir/x.gguf"
expect_error "unknown command 'frob' \(accepted: synth, info, generate, help\)" model frob
expect_error "missing FILE.gguf or PROFILE" model info
expect_error "unknown model profile 'nope'" model info nope
expect_error "unknown --quant 'zz'" model info llama-3.2-1b --quant zz
printf 'GGUF\003\000\000\000' >"$tmp/trunc.gguf"
expect_error "trunc.gguf" model info "$tmp/trunc.gguf"
[ -e "$out" ] && bad "a failed synth left $out" || ok
# nothing half-written anywhere in the temp dir (the writer's temp files included)
left=$(ls -A "$tmp" | grep -vE '^(tiny-.*\.json|s[12]\.gguf|trunc\.gguf|info|out|err)$')
[ -z "$left" ] && ok || bad "left behind: $left"
# a read-only directory: refused, nothing written
mkdir "$tmp/ro" && chmod 500 "$tmp/ro"
if [ "$(id -u)" -ne 0 ]; then
  expect_error "$tmp/ro/x.gguf" model synth --model "$tmp/tiny-qwen2.json" --quant q4_0 -o "$tmp/ro/x.gguf"
  [ -z "$(ls -A "$tmp/ro")" ] && ok || bad "read-only dir not empty"
fi

"$LLMBENCH" model help | grep -q "synth --model PROFILE --quant TYPE" && ok || bad "model help"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
