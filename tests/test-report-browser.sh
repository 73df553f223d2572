#!/usr/bin/env bash
# test-report-browser.sh: the HTML report rendered by a real browser
# (Debian's chromium, headless, network off): a screenshot is taken and
# its pixels decoded (tests/report-render-check.py shot) to check the
# inline SVG charts were drawn; a page without charts is the negative
# control. Exit 77 (skipped) when chromium is not installed:
# scripts/test.sh installs it (install-deps.sh --test).
set -euo pipefail
: "${LLMBENCH:?set LLMBENCH to the llmbench binary}"
: "${LB_SOURCE_DIR:?set LB_SOURCE_DIR to the source tree}"
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "skipped: chromium not installed"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check="python3 $LB_SOURCE_DIR/tests/report-render-check.py"
fixture="$LB_SOURCE_DIR/tests/report-data/synthetic-decode.json"
fail() { echo "FAIL: $*"; exit 1; }
export LLMBENCH_CACHE_DIR="$tmp/cache"
mkdir -p "$LLMBENCH_CACHE_DIR"
"$LLMBENCH" run --suite gemv --quant q4_0 --size 1M,4M --threads 1,2 --budget 4 -q -o "$tmp/g.json" >/dev/null || true
[ -s "$tmp/g.json" ] || fail "gemv run wrote no report"
"$LLMBENCH" report "$tmp/g.json" "$fixture" --format html -o "$tmp/r.html"
# negative control: same page shape, no results, so no charts
python3 - "$fixture" "$tmp/empty.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["results"] = []; d["ceilings"] = None
json.dump(d, open(sys.argv[2], "w"))
PY
"$LLMBENCH" report "$tmp/empty.json" --format html -o "$tmp/empty.html"

shot() { # html png
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$tmp/ud" --screenshot="$2" --window-size=1280,4000 \
    --force-device-scale-factor=0.5 "file://$1" > "$tmp/chromium.log" 2>&1 ||
    fail "chromium failed: $(tail -3 "$tmp/chromium.log")"
  [ -s "$2" ] || fail "chromium wrote no screenshot"
}
shot "$tmp/r.html" "$tmp/shot.png"
$check png "$tmp/shot.png" 20000
$check shot "$tmp/shot.png" 2000
shot "$tmp/empty.html" "$tmp/empty.png"
if $check shot "$tmp/empty.png" 2000 > "$tmp/neg.log"; then
  fail "negative control: a page without charts passed the chart-pixel check: $(cat "$tmp/neg.log")"
fi
if [ -n "${LB_KEEP_SHOT:-}" ]; then cp "$tmp/shot.png" "$LB_KEEP_SHOT"; fi
echo "report browser: screenshot shows the charts"
