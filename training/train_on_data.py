#!/usr/bin/env python3
"""Retrain on an operator's own labelled history: what `make train DATA=dir MODEL_OUT=dir` runs.

DATA holds profiles.jsonl, events.jsonl (in arrival order) and labels.jsonl (Label v1; events
without a label are legitimate). The history is split in time, not at random: events before the
split train the model, events at or after it validate it (train.py's metrics and parity rows),
calibrate its thresholds and are reported on. The default split is the start (00:00 UTC) of the
last calendar day holding an event: the last day validates.

  1. `roamguard export-features --split-at SPLIT` (the Rust feature code; the live state is built
     over all events in order) -> WORK/train/features.csv, WORK/validation/features.csv
  2. training/train.py -> MODEL_OUT/{model.json, metadata.json, parity.csv, report.md}
  3. `roamguard calibrate --since SPLIT` on the whole history (the live state is built over all
     events in order, the events at or after the split choose the thresholds) -> thresholds,
     then training/set_thresholds.py writes them into metadata.json
  4. `roamguard evaluate --markdown --since SPLIT` on the whole history, appended to report.md

  .venv/bin/python training/train_on_data.py --data DIR --model-out DIR [--split-at TIME]
      [--cli target/release/roamguard] [--work DIR] [-- train.py arguments, e.g. --num-round 20]

SageMaker script mode (entry_point=train_on_data.py, source_dir holding training/ and a Linux
`roamguard` build): --data defaults to SM_CHANNEL_DATA (the `data` channel), --model-out to
SM_MODEL_DIR, --cli to ROAMGUARD_CLI, else the `roamguard` next to this script, else ROAMGUARD
or target/release/roamguard. Arguments this script does not know (the hyperparameters SageMaker
passes, e.g. `--num-round 60`) go to train.py, as those after `--` do.
"""

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_time(text):
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError(f"{text}: a time with an offset is needed (e.g. 2026-06-03T00:00:00Z)")
    return t.astimezone(dt.timezone.utc)


def history_span(events_path):
    """First and last event_time of the history (lines that are not JSON objects with a
    readable event_time are skipped, as export-features skips invalid events)."""
    first = last = None
    with open(events_path) as f:
        for line in f:
            if not line.strip():
                continue
            try:
                t = parse_time(json.loads(line)["event_time"])
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            first = t if first is None or t < first else first
            last = t if last is None or t > last else last
    if first is None:
        sys.exit(f"{events_path}: no events with a readable event_time")
    return first, last


def default_split(first, last):
    """00:00 UTC of the last day holding an event: that day validates."""
    split = last.replace(hour=0, minute=0, second=0, microsecond=0)
    if split <= first:
        sys.exit("the history covers a single day: give --split-at (SPLIT=) to choose the validation part")
    return split


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def run(*args, stdout=None):
    print("+ " + " ".join(args), flush=True)
    subprocess.run(args, check=True, stdout=stdout)


def default_cli():
    """ROAMGUARD_CLI, else a `roamguard` executable next to this script (a SageMaker source_dir),
    else ROAMGUARD, else the release build of this checkout."""
    if os.environ.get("ROAMGUARD_CLI"):
        return os.environ["ROAMGUARD_CLI"]
    beside = os.path.join(HERE, "roamguard")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    return os.environ.get("ROAMGUARD", "target/release/roamguard")


def main(argv):
    if "--" in argv:
        i = argv.index("--")
        argv, train_args = argv[:i], argv[i + 1:]
    else:
        train_args = []
    # No abbreviations: an unknown argument (a train.py hyperparameter) must never be taken for
    # a prefix of one of ours.
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                allow_abbrev=False)

    def arg(name, **kw):
        # SageMaker passes hyperparameters with the names they were given; accept both spellings.
        p.add_argument("--" + name, *(["--" + name.replace("-", "_")] if "-" in name else []), **kw)

    def from_env(name, what):
        value = os.environ.get(name)  # set in a SageMaker training job
        return {"default": value, "required": not value, "help": f"{what} (default: ${name})"}

    arg("data", **from_env("SM_CHANNEL_DATA", "directory with profiles.jsonl, events.jsonl, labels.jsonl"))
    arg("model-out", **from_env("SM_MODEL_DIR", "model directory to write (for --model-dir / MODEL_URI)"))
    arg("split-at", help="RFC 3339 time: events from it on validate (default: the last day)")
    arg("cli", default=default_cli(), help="roamguard binary (default: $ROAMGUARD_CLI, ./roamguard beside "
        "this script, $ROAMGUARD, target/release/roamguard)")
    arg("work", help="directory for the feature CSVs (default: a temporary one, removed)")
    arg("block-fpr", default="0.0005", help="calibration target: legitimate events BLOCKed")
    arg("flag-fpr", default="0.005", help="calibration target: legitimate events flagged")
    a, unknown = p.parse_known_args(argv)
    train_args = unknown + train_args  # e.g. SageMaker's hyperparameters: train.py's arguments
    data = {n: os.path.join(a.data, f"{n}.jsonl") for n in ("profiles", "events", "labels")}
    for path in data.values():
        if not os.path.isfile(path):
            sys.exit(f"{path}: missing (DATA needs profiles.jsonl, events.jsonl and labels.jsonl)")

    first, last = history_span(data["events"])
    split = parse_time(a.split_at) if a.split_at else default_split(first, last)
    if not first < split <= last:
        sys.exit(f"split {rfc3339(split)} leaves no training or no validation events "
                 f"(history {rfc3339(first)} .. {rfc3339(last)})")
    print(f"history {rfc3339(first)} .. {rfc3339(last)}: training before {rfc3339(split)}, "
          "validation, calibration and report from it on", flush=True)

    tmp = None if a.work else tempfile.TemporaryDirectory()
    work = a.work or tmp.name
    try:
        for d in ("train", "validation"):
            shutil.rmtree(os.path.join(work, d), ignore_errors=True)
            os.makedirs(os.path.join(work, d))
        train_csv, valid_csv = (os.path.join(work, d, "features.csv") for d in ("train", "validation"))
        run(a.cli, "export-features", "--data", a.data, "--out", train_csv,
            "--split-at", rfc3339(split), "--validation-out", valid_csv)

        os.makedirs(a.model_out, exist_ok=True)
        # train_args first: the directories given after them are this script's, whatever is passed.
        run(sys.executable, os.path.join(HERE, "train.py"), *train_args, "--train", os.path.dirname(train_csv),
            "--validation", os.path.dirname(valid_csv), "--model-dir", a.model_out)

        # Calibration on the validation part: the events at or after the split choose the
        # thresholds, the whole history replayed in order builds their live state (as evaluate).
        thresholds = os.path.join(work, "thresholds.json")
        run(a.cli, "calibrate", "--model-dir", a.model_out, "--profiles", data["profiles"],
            "--events", data["events"], "--labels", data["labels"], "--since", rfc3339(split),
            "--out", thresholds, "--block-fpr", a.block_fpr, "--flag-fpr", a.flag_fpr)
        run(sys.executable, os.path.join(HERE, "set_thresholds.py"), "--model-dir", a.model_out,
            "--thresholds", thresholds,
            "--calibrated-on", f"{os.path.abspath(a.data)}, events from {rfc3339(split)} to {rfc3339(last)}")

        # The operating point on the validation days, with the live state of the whole history.
        report = os.path.join(a.model_out, "report.md")
        with open(report, "a") as f:
            f.write(f"\n## Operating point on the last days\n\nCalibrated thresholds, `roamguard evaluate "
                    f"--markdown --since {rfc3339(split)}` on {os.path.abspath(a.data)} (events from "
                    f"{rfc3339(split)} to {rfc3339(last)}; the earlier ones trained the model).\n\n")
            f.flush()
            run(a.cli, "evaluate", "--model-dir", a.model_out, "--markdown", "--since", rfc3339(split),
                "--profiles", data["profiles"], "--events", data["events"], "--labels", data["labels"], stdout=f)
    finally:
        if tmp:
            tmp.cleanup()
    print(f"wrote {a.model_out}: model.json, metadata.json, parity.csv, report.md")


if __name__ == "__main__":
    main(sys.argv[1:])
