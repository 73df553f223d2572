#!/usr/bin/python3
"""validate-report.py REPORT.json [SCHEMA]: validate an llmbench report
against reports/schema/report.schema.json with the jsonschema library
(Debian's python3-jsonschema), then check the cross-field facts a schema
cannot express. Exit 0 when valid, 1 with every problem listed otherwise."""
import json
import math
import os
import sys

import jsonschema


def main():
    report_path = sys.argv[1]
    schema_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.environ.get("LB_SOURCE_DIR", "."), "reports/schema/report.schema.json")
    with open(schema_path) as f:
        schema = json.load(f)
    with open(report_path) as f:
        report = json.load(f)
    validator = jsonschema.Draft202012Validator(schema)
    jsonschema.Draft202012Validator.check_schema(schema)
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in validator.iter_errors(report)]
    # cross-field checks: statistics agree with the raw samples
    for i, r in enumerate(report.get("results", [])):
        s, xs = r.get("stats"), r.get("samples_ns")
        if not s or not xs:
            continue
        xs = sorted(xs)
        if s["n"] != len(xs):
            problems.append(f"results/{i}: stats.n {s['n']} != {len(xs)} samples")
        if not math.isclose(s["min_ns"], xs[0], rel_tol=1e-9):
            problems.append(f"results/{i}: min_ns {s['min_ns']} != {xs[0]}")
        if "probe_gbs" in r and len(r["probe_gbs"]) != len(xs):
            problems.append(f"results/{i}: {len(r['probe_gbs'])} probes for {len(xs)} samples")
        if not s["ci95_lo_ns"] <= s["median_ns"] <= s["ci95_hi_ns"]:
            problems.append(f"results/{i}: median outside its CI")
    for p in problems:
        print(p)
    print(f"{report_path}: {'valid' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
