#!/usr/bin/env python3
"""Write a calibrated thresholds file (Thresholds v1, from `roamguard calibrate`) into a model's
metadata.json: the REVIEW and BLOCK thresholds, the BLOCK escalation, and where and at which
operating point they were calibrated. `make train` runs it after calibrating on a held-out world.

  .venv/bin/python training/set_thresholds.py --model-dir models --thresholds out/thresholds.json \\
      --calibrated-on "world 11, seed 3, 3000 subscribers, 3 days"
"""

import argparse
import json
import os
import sys


def apply(metadata, thresholds, calibrated_on):
    """The metadata with the thresholds file's decisions; refuses a file made for another model."""
    version = thresholds.get("model_version")
    if version is not None and version != metadata["model_version"]:
        raise ValueError(f"thresholds were calibrated for model {version}, not {metadata['model_version']}")
    out = dict(metadata)
    out["thresholds"] = {"review": thresholds["review"], "block": thresholds["block"]}
    if "escalation" in thresholds:
        out["escalation"] = thresholds["escalation"]
    calibration = thresholds.get("calibration") or {}
    targets = calibration.get("targets")
    if targets:
        out["threshold_targets"] = {"review_fpr": targets["flag_fpr"], "block_fpr": targets["block_fpr"]}
    out["calibration"] = {"calibrated_on": calibrated_on, **calibration}
    return out


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True, help="directory with metadata.json")
    p.add_argument("--thresholds", required=True, help="Thresholds v1 JSON from roamguard calibrate")
    p.add_argument("--calibrated-on", required=True, help="what the calibration data was (shown in the metadata)")
    a = p.parse_args(argv)
    path = os.path.join(a.model_dir, "metadata.json")
    with open(path, encoding="utf-8") as f:
        metadata = json.load(f)
    with open(a.thresholds, encoding="utf-8") as f:
        thresholds = json.load(f)
    try:
        metadata = apply(metadata, thresholds, a.calibrated_on)
    except ValueError as e:
        sys.exit(str(e))
    with open(path, "w", encoding="utf-8") as f:
        json.dump(metadata, f, indent=1)
        f.write("\n")
    t = metadata["thresholds"]
    print(f"{path}: REVIEW at >= {t['review']:.6f}, BLOCK at >= {t['block']:.6f} ({a.calibrated_on})")


if __name__ == "__main__":
    main(sys.argv[1:])
