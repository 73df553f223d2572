#!/usr/bin/env python3
"""aa-rates.py: false-alarm rate of `llmbench compare` on recorded A/A runs.

Usage: aa-rates.py LLMBENCH DIR [RUNS_PER_SIDE ...]
       SCALE=1.10 THRESHOLD=3% aa-rates.py ...   (detection: the new side's
       samples scaled by SCALE, a true slowdown; THRESHOLD passed on)
DIR holds reports of repeated runs of one build, named so that sorting
gives their time order (e.g. gemv-01.json .. gemv-30.json). For each
runs-per-side count k (default 1 and 3) it compares every window of 2k
consecutive runs interleaved (base = runs 1,3,5.., new = 2,4,6..) and the
same window swapped, counts regressions per result and per comparison
(exit status 1), and prints the rates. Used for docs/compare.md."""
import glob, json, os, subprocess, sys, tempfile

def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    exe, d = sys.argv[1], sys.argv[2]
    ks = [int(k) for k in sys.argv[3:]] or [1, 3]
    for prefix in sorted({os.path.basename(f).rsplit('-', 1)[0] for f in glob.glob(os.path.join(d, '*-*.json'))}):
        runs = sorted(glob.glob(os.path.join(d, prefix + '-*.json')))
        for k in ks:
            n_cmp = n_fail = n_res = n_reg = 0
            classes = {}
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, 'c.json')
                scale = float(os.environ.get('SCALE', '1'))
                scaled = {}
                for f in runs:  # every run scaled once, used on the new side
                    doc = json.load(open(f))
                    for r in doc['results']:
                        if 'samples_ns' in r:
                            r['samples_ns'] = [v * scale for v in r['samples_ns']]
                    scaled[f] = os.path.join(tmp, os.path.basename(f))
                    json.dump(doc, open(scaled[f], 'w'))
                extra = ['--threshold', os.environ['THRESHOLD']] if 'THRESHOLD' in os.environ else []
                for i in range(len(runs) - 2 * k + 1):
                    w = runs[i:i + 2 * k]
                    a, b = w[0::2], w[1::2]
                    for base, new in ((a, b), (b, a)):
                        base, new = ','.join(base), ','.join(scaled[f] for f in new)
                        p = subprocess.run([exe, 'compare', base, new, '--json', out, '--md', os.devnull] + extra,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        if p.returncode not in (0, 1):
                            sys.exit('compare failed on %s %s' % (base, new))
                        c = json.load(open(out))
                        n_cmp += 1
                        n_fail += p.returncode == 1
                        for r in c['results']:
                            n_res += 1
                            n_reg += r['regression']
                            classes[r['class']] = classes.get(r['class'], 0) + 1
            print('%s: %d runs, %d per side: %d comparisons, %d failed the gate (%.1f%%); '
                  '%d result pairs, %d regressions (%.2f%%); classes %s'
                  % (prefix, len(runs), k, n_cmp, n_fail, 100.0 * n_fail / max(n_cmp, 1), n_res, n_reg,
                     100.0 * n_reg / max(n_res, 1), dict(sorted(classes.items()))))

main()
