#!/usr/bin/env python3
"""Checks that tests/load/python_baseline.py does RoamGuard's work, not a stub (issue 12).

  target/release/roamguard generate --subscribers 200 --days 2 --seed 3 --out /tmp/small
  target/release/roamguard export-features --data /tmp/small --out /tmp/small/features.csv
  target/release/roamguard score --profiles /tmp/small/profiles.jsonl --events /tmp/small/events.jsonl \
      --dead-letter /tmp/small/dlq.jsonl --out /tmp/small/v.jsonl --model-dir models
  .venv/bin/python tests/load/compare_baseline.py --data /tmp/small --rust-verdicts /tmp/small/v.jsonl

Runs the baseline on DATA (verdicts to DATA/python-verdicts.jsonl) with its feature function
wrapped to keep every row, then compares: the 44 features against `roamguard export-features` rows
as f32, exact or within 1e-5 relative; verdicts by event_id: decisions (thresholds and BLOCK
escalation, so the score marks of the live state too), scores, and the other Verdict v1 fields both
write (imsi, event_time, model_version, degraded, enforced). Use the same --model-dir for both.
Exits 1 when more than 0.1% of the feature values or decisions differ, an event is in one output
only, or any of those other fields differs.
"""
import argparse
import csv
import json
import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import python_baseline as baseline  # noqa: E402


def f32(text):
    return float(np.float32(text)) if text != "" else math.nan


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="profiles.jsonl and events.jsonl, as `roamguard generate` writes")
    ap.add_argument("--rust-features", help="`roamguard export-features` CSV (default: DATA/features.csv)")
    ap.add_argument("--rust-verdicts", required=True, help="`roamguard score --out` JSON Lines")
    ap.add_argument("--model-dir", default=str(baseline.ROOT / "models"))
    a = ap.parse_args()
    data, py = Path(a.data), []
    compute = baseline.features
    baseline.features = lambda *args: py.append(compute(*args)) or py[-1]
    sys.argv = ["python_baseline.py", "--profiles", str(data / "profiles.jsonl"), "--events",
                str(data / "events.jsonl"), "--model-dir", a.model_dir, "--out", str(data / "python-verdicts.jsonl")]
    baseline.main()
    py = [[float(np.float32(v)) for v in row] for row in py]
    with open(a.rust_features or data / "features.csv") as f:
        reader = csv.reader(f)
        names = next(reader)[2:]
        rust = [[f32(v) for v in row[2:]] for row in reader]
    assert len(rust) == len(py), f"{len(rust)} Rust rows, {len(py)} Python rows"
    exact = close = 0
    off, worst_rel = Counter(), Counter()
    for r_row, p_row in zip(rust, py):
        for i, (r, p) in enumerate(zip(r_row, p_row)):
            same = (math.isnan(r) and math.isnan(p)) or r == p
            near = same or (not math.isnan(r) and not math.isnan(p) and abs(r - p) <= 1e-5 * max(abs(r), 1e-30))
            exact += same
            close += near
            if not same:
                off[names[i], "within 1e-5" if near else "beyond 1e-5"] += 1
                rel = abs(r - p) / max(abs(r), 1e-30) if not (math.isnan(r) or math.isnan(p)) else math.inf
                worst_rel[names[i]] = max(worst_rel[names[i]], rel)
    total = len(rust) * len(names)
    print(f"features: {len(rust)} rows x {len(names)} = {total} values; exact (f32) {exact} "
          f"({exact / total:.4%}); within 1e-5 relative {close} ({close / total:.4%})")
    for (name, kind), n in off.most_common():
        print(f"  {name}: {n} values differ ({kind}; largest relative difference {worst_rel[name]:.2g})")

    load = lambda p: {v["event_id"]: v for v in map(json.loads, open(p))}
    rv, pv = load(a.rust_verdicts), load(data / "python-verdicts.jsonl")
    common = rv.keys() & pv.keys()
    agree = sum(rv[k]["decision"] == pv[k]["decision"] for k in common)
    worst = max((abs(rv[k]["score"] - pv[k]["score"]) for k in common), default=0.0)
    by_decision = Counter(pv[k]["decision"] for k in common)
    print(f"verdicts: {len(rv)} Rust, {len(pv)} Python, {len(common)} in both; same decision {agree} "
          f"({agree / max(len(common), 1):.4%}); largest score difference {worst:.3g}; Python decisions {dict(by_decision)}")
    for k in sorted(common):
        if rv[k]["decision"] != pv[k]["decision"]:
            print(f"  {k}: Rust {rv[k]['decision']} {rv[k]['score']:.6g}, Python {pv[k]['decision']} {pv[k]['score']:.6g}")
    # Escalation at work: scores at or above BLOCK that stayed REVIEW (no earlier flag).
    block = float(np.float32(json.loads((Path(a.model_dir) / "metadata.json").read_text())["thresholds"]["block"]))
    held = lambda vs: sum(v["decision"] == "REVIEW" and float(np.float32(v["score"])) >= block for v in vs.values())
    print(f"held at REVIEW by the escalation (score >= block, no earlier flag): Rust {held(rv)}, Python {held(pv)}")
    # The other fields: the same in both (the Python baseline computes no reasons, so has none on
    # REVIEW/BLOCK; scored_at is the time of scoring).
    fields = ("imsi", "event_time", "model_version", "degraded", "enforced")
    field_off = Counter(f for k in common for f in fields if rv[k].get(f, "(absent)") != pv[k].get(f, "(absent)"))
    keys = lambda v: set(v) - {"reasons"}
    key_off = sum(keys(rv[k]) != keys(pv[k]) for k in common)
    for f, n in field_off.items():
        example = next(k for k in sorted(common) if rv[k].get(f, "(absent)") != pv[k].get(f, "(absent)"))
        print(f"  {f}: differs on {n} events, e.g. {example}: Rust {rv[example].get(f, '(absent)')!r}, "
              f"Python {pv[example].get(f, '(absent)')!r}")
    if key_off:
        print(f"  field sets differ on {key_off} events (reasons aside)")
    # The same work: (almost) every feature value and every decision alike, every event in both.
    failures = [what for what, bad in [
        (f"features within 1e-5 relative: {close / total:.4%} < 99.9%", close < 0.999 * total),
        (f"events in only one output: {len(rv.keys() ^ pv.keys())}", rv.keys() != pv.keys()),
        (f"decisions differ on {len(common) - agree} events (more than 0.1%)", len(common) - agree > 0.001 * len(common)),
        (f"other verdict fields differ: {dict(field_off)}; field sets on {key_off} events",
         bool(field_off) or key_off > 0),
    ] if bad]
    for what in failures:
        print(f"FAIL: {what}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
