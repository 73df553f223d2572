#!/usr/bin/env bash
# test-cli.sh: every bad input gets one clear line on stderr naming the
# problem and what is accepted, exit status 2, and leaves no file behind.
set -u
: "${LLMBENCH:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
pass=0 fail=0

# expect_error "WHAT STDERR MUST MATCH (grep -E)" ARGS...
expect_error() {
  local pattern=$1; shift
  "$LLMBENCH" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  local lines; lines=$(wc -l <"$tmp/err")
  if [ "$rc" -eq 2 ] && grep -qE -- "$pattern" "$tmp/err" && [ "$lines" -eq 1 ]; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: llmbench $* -> rc=$rc, stderr ($lines lines):"; cat "$tmp/err"
  fi
}

expect_error "unknown command 'frobnicate' \(accepted: run, hw" frobnicate
expect_error "unknown option '--bogus'" run --bogus
expect_error "unknown suite 'nope' \(accepted: default, ceilings" run --suite nope
expect_error "--threads: cannot parse 'x'" run --threads 1,x
expect_error "--threads: 0 is below the minimum 1" run --threads 0
expect_error "--threads: range '4-1' ends below" run --threads 4-1
expect_error "--threads 9999: at most 1024" run --threads 9999
expect_error "--size: cannot parse '12Q'" run --size 12Q
expect_error "unknown --pin 'tight' \(accepted: compact, spread, none\)" run --pin tight
expect_error "unknown --cache 'warm' \(accepted: hot, cold\)" run --cache warm
expect_error "unknown --isa 'sse9' \(accepted: scalar, avx2, avx512\)" run --isa sse9
expect_error "--budget 'soon': expected seconds" run --budget soon
expect_error "--seed '-3': expected a non-negative integer" run --seed -3
expect_error "--suite needs a value" run --suite
expect_error "--target-ci '0': expected a percentage" run --target-ci 0
expect_error "--min-samples is above --max-samples" run --min-samples 50 --max-samples 10
expect_error "unknown --quant 'q9' \(accepted: f32, f16, q4_0" run --quant q4_0,q9
expect_error "--shape '4x': expected ROWSxCOLS" run --shape 4096x4096,4x
expect_error "--bench 'pp' is not in suite gemv \(accepted: gemv, gemv_sweep\)" run --suite gemv --bench pp
expect_error "--depth: -1 is below the minimum 0|--depth: cannot parse" run --suite decode --depth -1
expect_error "--n-gen: 0 is below the minimum 1" run --suite decode --n-gen 0
expect_error "hw: unknown option '--yaml' \(accepted: --json\)" hw --yaml
expect_error "cannot write output /nonexistent-dir/r.json" run --suite pool --threads 1 -o /nonexistent-dir/r.json
expect_error "output path .* is a directory" run --suite pool --threads 1 -o "$tmp"
expect_error "--threads $(( $(nproc) + 1 )) exceeds the $(nproc) CPUs" run --suite pool --threads $(( $(nproc) + 1 ))
expect_error "--cpus.*'0,x'|bad.*'x'|cpu list" run --suite pool --threads 1 --cpus 0,x
expect_error "NUMA node 99|--numa 99" run --suite pool --threads 1 --numa 99

# no half-written reports anywhere in the working directory
left=$(find "$tmp" -name '*.json' -o -name '*.tmp.*' | grep -v '/out$\|/err$' || true)
if [ -n "$left" ]; then fail=$((fail + 1)); echo "FAIL: files left behind: $left"; else pass=$((pass + 1)); fi

# help and version succeed
"$LLMBENCH" help >/dev/null && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: help"; }
"$LLMBENCH" --version | grep -q '^llmbench ' && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: version"; }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
