#!/usr/bin/env bash
# test-compare-cli.sh: exit statuses of `llmbench compare` (0 no
# regression, 1 regression, 2 bad input) on fixtures written at test time
# from one real short run: identical, samples x1.2 (a regression), x0.8
# (faster: never fails), reordered params, malformed JSON, wrong
# schema_version, a non-report JSON, missing file, bad flags; --md/--json.
set -uo pipefail
: "${LLMBENCH:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
expect() { # expect RC DESC cmd...
    local want=$1 desc=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" != "$want" ]; then
        echo "FAIL: $desc: exit $rc, want $want"; cat "$T/err"; fail=1
    else
        echo "ok   $desc (exit $rc)"
    fi
}
"$LLMBENCH" run --suite pool --threads 1 --budget 2 -q -o "$T/base.json" >/dev/null || { echo "run failed"; exit 1; }
python3 - "$T" <<'PY'
import json, sys, os
t = sys.argv[1]
d = json.load(open(os.path.join(t, 'base.json')))
def write(name, f):
    doc = json.loads(json.dumps(d)); f(doc)
    json.dump(doc, open(os.path.join(t, name), 'w'))
def scale(k):
    def f(doc):
        for r in doc['results']:
            if 'samples_ns' in r: r['samples_ns'] = [v * k for v in r['samples_ns']]
    return f
def reorder(doc):
    for r in doc['results']:
        r['params'] = dict(reversed(list(r['params'].items())))
        r['params']['threads'] = float(r['params']['threads'])
def extra(doc):
    r = json.loads(json.dumps(doc['results'][0])); r['params']['threads'] = 99
    doc['results'].append(r)
write('slow.json', scale(1.2))
write('fast.json', scale(0.8))
write('reordered.json', reorder)
write('extra.json', extra)
write('v2.json', lambda doc: doc.__setitem__('schema_version', 2))
write('badsample.json', lambda doc: doc['results'][0].__setitem__('samples_ns', [1, 'x']))
open(os.path.join(t, 'notreport.json'), 'w').write('{"hello": [1, 2, 3]}')
open(os.path.join(t, 'malformed.json'), 'w').write('{"schema_version": 1, "results": [')
PY
[ -s "$T/malformed.json" ] || { echo "FAIL: fixtures not written"; exit 1; }
B=$T/base.json
expect 0 "identical" "$LLMBENCH" compare "$B" "$B"
grep -q "No regression" "$T/out" || { echo "FAIL: markdown verdict missing"; fail=1; }
expect 1 "samples x1.2 is a regression" "$LLMBENCH" compare "$B" "$T/slow.json"
grep -q "regression" "$T/out" || { echo "FAIL: markdown does not name the regression"; fail=1; }
expect 0 "samples x0.8 is faster, never fails" "$LLMBENCH" compare "$B" "$T/fast.json"
grep -q "| faster" "$T/out" || { echo "FAIL: faster row missing"; fail=1; }
expect 0 "reordered params match" "$LLMBENCH" compare "$B" "$T/reordered.json" --json "$T/c.json"
python3 -c "import json,sys; c=json.load(open(sys.argv[1])); assert c['counts']['only_in_base']==0 and c['counts']['only_in_new']==0 and c['compared']>=1, c['counts']" "$T/c.json" || fail=1
expect 0 "extra result listed" "$LLMBENCH" compare "$B" "$T/extra.json" --md "$T/c.md"
grep -q "Only in new" "$T/c.md" || { echo "FAIL: only-in-new list missing"; fail=1; }
expect 0 "x1.2 within --threshold 25%" "$LLMBENCH" compare "$B" "$T/slow.json" --threshold 25%
expect 1 "x1.2 beyond --threshold=10" "$LLMBENCH" compare "$B" "$T/slow.json" --threshold=10
expect 1 "regression with --md and --json still writes both" "$LLMBENCH" compare "$B" "$T/slow.json" --md "$T/r.md" --json "$T/r.json"
[ -s "$T/r.md" ] && python3 -c "import json,sys; assert json.load(open(sys.argv[1]))['regressions']>=1" "$T/r.json" || { echo "FAIL: outputs of a failing compare"; fail=1; }
expect 2 "malformed JSON" "$LLMBENCH" compare "$B" "$T/malformed.json"
grep -q "not valid JSON" "$T/err" || { echo "FAIL: malformed message"; cat "$T/err"; fail=1; }
expect 2 "wrong schema_version" "$LLMBENCH" compare "$T/v2.json" "$B"
grep -q "schema_version 2" "$T/err" || { echo "FAIL: schema message"; fail=1; }
expect 2 "not a report" "$LLMBENCH" compare "$B" "$T/notreport.json"
expect 2 "bad sample in an ok result" "$LLMBENCH" compare "$B" "$T/badsample.json"
expect 2 "missing file" "$LLMBENCH" compare "$B" "$T/nope.json"
expect 2 "one file" "$LLMBENCH" compare "$B"
expect 2 "three files" "$LLMBENCH" compare "$B" "$B" "$B"
expect 2 "--threshold 0" "$LLMBENCH" compare "$B" "$B" --threshold 0
expect 2 "--threshold abc" "$LLMBENCH" compare "$B" "$B" --threshold abc
expect 2 "--threshold -5%" "$LLMBENCH" compare "$B" "$B" --threshold -5%
expect 2 "--alpha 0" "$LLMBENCH" compare "$B" "$B" --alpha 0
expect 2 "--alpha 0.9" "$LLMBENCH" compare "$B" "$B" --alpha 0.9
expect 2 "--alpha missing value" "$LLMBENCH" compare "$B" "$B" --alpha
expect 2 "unknown flag" "$LLMBENCH" compare "$B" "$B" --frobnicate
[ "$(wc -l <"$T/err")" = 1 ] || { echo "FAIL: bad input must be one line"; cat "$T/err"; fail=1; }
expect 0 "help" "$LLMBENCH" compare help
exit $fail
