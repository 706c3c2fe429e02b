#!/usr/bin/env python3
"""Retrain on an operator's own labelled history: what `make train DATA=dir MODEL_OUT=dir` runs.

DATA holds profiles.jsonl, events.jsonl (in arrival order) and labels.jsonl (Label v1; events
without a label are legitimate). The history is split in time, not at random: events before the
split train, events at or after it validate and calibrate. The default split is 24 hours before
the last event, rounded up to the hour: the last day validates (from 00:00 UTC for a history of
whole UTC days), and a few events past a day's end do not make a validation day of their own.
The subscribers are also split in two folds (a stable hash of the IMSI), to calibrate on days
the model written has learnt from too:

  1. DATA split by subscriber -> WORK/fold-{0,1}/{profiles,events,labels}.jsonl
  2. `roamguard export-features --split-at SPLIT` per fold (the Rust feature code; the live state
     is built over the fold's events in order) -> WORK/train/fold-K.csv, WORK/validation/fold-K.csv;
     and the fold's last days alone (a cold start: every live state empty at SPLIT, as on a new
     deployment's first day) -> WORK/fold-K/cold-start/, WORK/validation/fold-K-cold-start.csv:
     the last days' events in both regimes, so that the models learn the features of a cold start
     too
  3. per fold K, training/train.py on everything but fold K's last days (either replay) ->
     WORK/fold-K/model, and `roamguard calibrate --since SPLIT` of that model on fold K (its whole
     history replayed, its last days choosing, at --margin 0.7 of the targets) ->
     WORK/fold-K/thresholds.json; and `roamguard calibrate` on fold K's last days alone (the cold
     start) -> WORK/fold-K/cold-start/thresholds.json
  4. training/train.py --refit: validated on the last days in both replays (trained before the
     split; the metrics in metadata.json and report.md), then trained on all these rows ->
     MODEL_OUT/{model.json, metadata.json, parity.csv, report.md}
  5. each threshold the highest of these four calibrations' -> WORK/thresholds.json, written
     into metadata.json by training/set_thresholds.py
  6. `roamguard evaluate --markdown` of each fold's model with those thresholds on its fold's
     last days (out of fold), after the earlier days and alone, appended to report.md

Every training continues from --base-model (default: the repository's models/, trained on
generated worlds): the operator's days add trees on top of it. `--base-model none` trains from
the history alone.

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
import re
import shutil
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
# Folds of subscribers for the cross-fitted calibration.
FOLDS = 2
BYTE_ORDER_MARK = b"\xef\xbb\xbf"
# Each fold calibrated to this share of the targets: the next day's rates vary around the last
# day's (measured on seven generated worlds, docs/model.md).
MARGIN = 0.7


# RFC 3339 as the CLI reads it (chrono): `T`, `t` or a space between date and time, any number of
# fraction digits, `Z`, `z` or a numeric offset. Python before 3.11 reads fewer of these.
RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})")


def parse_time(text):
    m = RFC3339.fullmatch(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"{text}: not an RFC 3339 time with an offset (e.g. 2026-06-03T00:00:00Z)")
    date, clock, fraction, offset = m.groups()
    micros = (fraction or "")[:6].ljust(6, "0")  # the CLI keeps nanoseconds; a split needs no more
    offset = "+00:00" if offset in "Zz" else offset
    return dt.datetime.fromisoformat(f"{date}T{clock}.{micros}{offset}").astimezone(dt.timezone.utc)


def history_span(events_path):
    """First and last event_time of the history (lines that are not JSON objects with a
    readable event_time are skipped, as export-features skips invalid events)."""
    first = last = None
    for line in jsonl_lines(events_path):
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
    """The last 24 hours validate: 24 h before the last event, rounded up to the hour."""
    day_before = last - dt.timedelta(hours=24)
    split = day_before.replace(minute=0, second=0, microsecond=0)
    if split < day_before:
        split += dt.timedelta(hours=1)
    if split <= first:
        sys.exit("the history covers a single day: give --split-at (SPLIT=) to choose the validation part")
    return split


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def run(*args, stdout=None):
    print("+ " + " ".join(args), flush=True)
    status = subprocess.run(args, stdout=stdout).returncode
    if status:
        sys.exit(f"stopped: {os.path.basename(args[0])} {os.path.basename(args[1])} exited with status {status} "
                 "(its error is above)")


def default_cli():
    """ROAMGUARD_CLI, else a `roamguard` executable next to this script (a SageMaker source_dir),
    else ROAMGUARD, else the release build of this checkout."""
    if os.environ.get("ROAMGUARD_CLI"):
        return os.environ["ROAMGUARD_CLI"]
    beside = os.path.join(HERE, "roamguard")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    return os.environ.get("ROAMGUARD", "target/release/roamguard")


def default_base_model():
    """The generated worlds' model to continue from: `models/` beside this script (a SageMaker
    source_dir), else this checkout's `models/`; none when neither exists."""
    for d in (os.path.join(HERE, "models"), os.path.join(HERE, "..", "models")):
        if os.path.isfile(os.path.join(d, "model.json")):
            return os.path.normpath(d)
    return "none"


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
    arg("split-at", help="RFC 3339 time: events from it on validate (default: the last 24 hours, from "
        "the hour after the last event's time the day before)")
    arg("cli", default=default_cli(), help="roamguard binary (default: $ROAMGUARD_CLI, ./roamguard beside "
        "this script, $ROAMGUARD, target/release/roamguard)")
    arg("work", help="directory for the feature CSVs (default: a temporary one, removed)")
    arg("block-fpr", default="0.0005", help="calibration target: legitimate events BLOCKed")
    arg("flag-fpr", default="0.005", help="calibration target: legitimate events flagged")
    arg("base-model", default=default_base_model(), help="model directory to boost on top of (the model "
        "trained on generated worlds: many more fraud episodes than a few labelled days hold), or `none` to "
        "train from the history alone (default: models/ beside this script or in the checkout, else none)")
    arg("margin", type=float, default=MARGIN, help="each fold is calibrated to this share of the targets "
        f"(default {MARGIN}: the next days' rates vary around the last day's)")
    a, unknown = p.parse_known_args(argv)
    if a.base_model != "none":
        train_args = ["--base-model", os.path.join(a.base_model, "model.json")] + train_args
        if not os.path.isfile(train_args[1]):
            sys.exit(f"{train_args[1]}: missing (--base-model takes a model directory, or none)")
    if not 0 < a.margin <= 1:
        sys.exit(f"--margin {a.margin}: a share of the targets, above 0 and at most 1")
    train_args = unknown + train_args  # e.g. SageMaker's hyperparameters: train.py's arguments
    data = {n: os.path.join(a.data, f"{n}.jsonl") for n in ("profiles", "events", "labels")}
    for path in data.values():
        if not os.path.isfile(path):
            sys.exit(f"{path}: missing (DATA needs profiles.jsonl, events.jsonl and labels.jsonl)")

    first, last = history_span(data["events"])
    try:
        split = parse_time(a.split_at) if a.split_at else default_split(first, last)
    except ValueError as e:
        sys.exit(f"--split-at {e}")
    if not first < split <= last:
        sys.exit(f"split {rfc3339(split)} leaves no training or no validation events "
                 f"(history {rfc3339(first)} .. {rfc3339(last)})")
    print(f"history {rfc3339(first)} .. {rfc3339(last)}: training before {rfc3339(split)}, "
          "validation, calibration and report from it on; " +
          ("from scratch" if a.base_model == "none" else f"boosting on top of {a.base_model}"), flush=True)

    tmp = None if a.work else tempfile.TemporaryDirectory()
    work = a.work or tmp.name
    try:
        train(a, data, split, last, work, train_args)
    finally:
        if tmp:
            tmp.cleanup()
    print(f"wrote {a.model_out}: model.json, metadata.json, parity.csv, report.md")


def train(a, data, split, last, work, train_args):
    since = rfc3339(split)
    train_dir, valid_dir = os.path.join(work, "train"), os.path.join(work, "validation")
    for d in (train_dir, valid_dir):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    folds = split_by_subscriber(data, work)
    train_csv = [os.path.join(train_dir, f"fold-{k}.csv") for k in range(FOLDS)]
    valid_csv = [os.path.join(valid_dir, f"fold-{k}.csv") for k in range(FOLDS)]
    cold_csv = [os.path.join(valid_dir, f"fold-{k}-cold-start.csv") for k in range(FOLDS)]
    for k, fold in enumerate(folds):
        run(a.cli, "export-features", "--data", fold, "--out", train_csv[k], "--split-at", since,
            "--validation-out", valid_csv[k])
        for path in (train_csv[k], valid_csv[k]):
            with open(path, encoding="utf-8") as f:
                if sum(1 for _ in f) < 2:  # the header alone
                    sys.exit(f"{path}: no feature rows: each of the {FOLDS} folds of subscribers needs events "
                             f"before and after {since} (a larger history, or another SPLIT)")
        # The same last days from empty live states: a new deployment's first day, or a table of
        # live states lost. Without these rows the models only see a cold start on the history's
        # first day, where no episode is under way yet (measured in docs/model.md).
        run(a.cli, "export-features", "--data", last_days(fold, split), "--out", cold_csv[k])

    # Cross-fitted calibration: fold k's model learns from everything but fold k's last days, and
    # fold k's last days choose its thresholds twice: replayed after the fold's earlier days (the
    # live state and earlier flags of a running deployment) and alone (a cold start: no
    # subscriber has a history yet, as on a new deployment's first day). Each threshold is then
    # the highest of these calibrations': it holds on each half of the subscribers, with and
    # without their history, a margin that grows with how much the days vary.
    calibrations, cold_starts = [], []
    fold_targets = ["--block-fpr", f"{float(a.block_fpr) * a.margin:.6g}", "--flag-fpr",
                    f"{float(a.flag_fpr) * a.margin:.6g}"]
    for k, fold in enumerate(folds):
        fold_model = os.path.join(fold, "model")
        others = [path for j in range(FOLDS) if j != k for path in (valid_csv[j], cold_csv[j])]
        # train_args first: the paths given after them are this script's, whatever is passed.
        run(sys.executable, os.path.join(HERE, "train.py"), *train_args, "--train", train_dir, *others,
            "--validation", valid_csv[k], "--model-dir", fold_model)
        calibrations.append(os.path.join(fold, "thresholds.json"))
        run(a.cli, "calibrate", "--model-dir", fold_model, *fold_files(fold), "--since", since,
            "--out", calibrations[k], *fold_targets)
        cold_starts.append(os.path.join(fold, "cold-start", "thresholds.json"))
        run(a.cli, "calibrate", "--model-dir", fold_model, *cold_start_files(fold), "--out", cold_starts[k],
            *fold_targets)

    # The model written: validated on the last days, in both replays (a time split: trained on the
    # days before), then trained again on all these rows, so that it knows the most recent traffic too.
    os.makedirs(a.model_out, exist_ok=True)
    run(sys.executable, os.path.join(HERE, "train.py"), *train_args, "--refit", "--train", train_dir,
        "--validation", valid_dir, "--model-dir", a.model_out)
    with open(os.path.join(a.model_out, "metadata.json"), encoding="utf-8") as f:
        version = json.load(f)["model_version"]
    thresholds = os.path.join(work, "thresholds.json")
    with open(thresholds, "w", encoding="utf-8") as f:
        targets = {"flag_fpr": float(a.flag_fpr), "block_fpr": float(a.block_fpr)}
        json.dump(cross_fitted(calibrations, cold_starts, version, targets, a.margin), f, indent=1)
    run(sys.executable, os.path.join(HERE, "set_thresholds.py"), "--model-dir", a.model_out,
        "--thresholds", thresholds, "--calibrated-on", f"{os.path.abspath(a.data)}, events from {since} to "
        f"{rfc3339(last)}, cross-fitted on {FOLDS} folds of subscribers")
    report_out_of_fold(a, folds, thresholds, since, last)


def last_days(fold, split):
    """FOLD/cold-start/{profiles,events,labels}.jsonl, a history directory: the fold's profiles, its
    events at or after the split alone and their labels (lines without a readable event_time are
    left out, as the CLI skips them). Returns the directory."""
    out_dir = os.path.join(fold, "cold-start")
    os.makedirs(out_dir, exist_ok=True)
    profiles = os.path.join(out_dir, "profiles.jsonl")
    try:
        os.link(os.path.join(fold, "profiles.jsonl"), profiles)  # no copy of a large file
    except OSError:
        shutil.copyfile(os.path.join(fold, "profiles.jsonl"), profiles)
    late_ids = set()
    with open(os.path.join(out_dir, "events.jsonl"), "wb") as out:
        for line in jsonl_lines(os.path.join(fold, "events.jsonl")):
            try:
                event = json.loads(line)
                if parse_time(event["event_time"]) < split:
                    continue
                late_ids.add(event["event_id"])
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            out.write(as_line(line))
    with open(os.path.join(out_dir, "labels.jsonl"), "wb") as out:
        for line in jsonl_lines(os.path.join(fold, "labels.jsonl")):
            try:
                late = json.loads(line)["event_id"] in late_ids
            except (ValueError, KeyError, TypeError):
                continue
            if late:
                out.write(as_line(line))
    return out_dir


def jsonl_lines(path):
    """The lines of a JSON Lines file as the CLI reads them: bytes split at LF alone, without a
    leading UTF-8 byte-order mark. Bytes that are not UTF-8 are kept as they are: the copies hold
    DATA's own lines, and the CLI skips such an event or names such a profile or label line."""
    with open(path, "rb") as f:
        for number, line in enumerate(f):
            yield line[len(BYTE_ORDER_MARK):] if number == 0 and line.startswith(BYTE_ORDER_MARK) else line


def as_line(line):
    """A JSON Lines line as read, newline-terminated (the file's last line may lack one)."""
    return line if line.endswith(b"\n") else line + b"\n"


def fold_files(fold):
    return [arg for n in ("profiles", "events", "labels") for arg in (f"--{n}", os.path.join(fold, f"{n}.jsonl"))]


def cold_start_files(fold):
    """The calibrate/evaluate arguments of a fold's last days alone (written by last_days)."""
    return fold_files(os.path.join(fold, "cold-start"))


def fold_of(imsi):
    """A subscriber's fold: a stable hash of the IMSI (the same on every run and machine)."""
    return zlib.crc32(imsi.encode()) % FOLDS


def split_by_subscriber(data, work):
    """WORK/fold-K/{profiles,events,labels}.jsonl, each subscriber's lines in one fold, in order.
    A subscriber's features come from their own profile and events alone, so a fold's feature
    rows are the whole history's. A line without a readable IMSI (event_id for a label) goes to
    fold 0, where export-features and calibrate count and skip it as they would. Profile and label
    lines keep their line numbers (a blank line in the other fold), so the CLI names a line it
    refuses as DATA numbers it."""
    folds = [os.path.join(work, f"fold-{k}") for k in range(FOLDS)]
    for fold in folds:
        shutil.rmtree(fold, ignore_errors=True)
        os.makedirs(fold)
    # The fold of each labelled event only: memory follows the labels, not the whole history.
    labelled = set()
    for line in jsonl_lines(data["labels"]):
        try:
            labelled.add(json.loads(line)["event_id"])
        except (ValueError, KeyError, TypeError):
            pass
    event_fold = {}

    def key(name, obj):
        if name == "labels":
            return event_fold.get(obj["event_id"], 0)
        k = fold_of(obj["imsi"])
        if name == "events" and obj["event_id"] in labelled:
            event_fold[obj["event_id"]] = k
        return k

    for name in ("profiles", "events", "labels"):
        outs = [open(os.path.join(fold, f"{name}.jsonl"), "wb") for fold in folds]
        try:
            for line in jsonl_lines(data[name]):
                try:
                    k = key(name, json.loads(line))
                except (ValueError, KeyError, TypeError, AttributeError):
                    k = 0
                outs[k].write(as_line(line))
                if name != "events":
                    # A blank line (skipped) in the other fold: a profile or label the CLI
                    # refuses is named by its line number in DATA's file.
                    for other in outs[:k] + outs[k + 1:]:
                        other.write(b"\n")
        finally:
            for out in outs:
                out.close()
    return folds


def cross_fitted(paths, cold_paths, model_version, targets, margin):
    """One Thresholds v1 document for the model written, from the folds' calibrations (each at
    `margin` times `targets`) on their last days after the earlier days (`paths`) and alone
    (`cold_paths`, a cold start): each threshold the highest of them all (the escalation of the
    calibration whose BLOCK it is)."""
    def read(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    folds, cold = [read(p) for p in paths], [read(p) for p in cold_paths]
    strictest = max(folds + cold, key=lambda t: t["block"])

    def entry(t):
        return {"model_version": t["model_version"], "review": t["review"], "block": t["block"], **t["calibration"]}

    calibration = {
        "cross_fitted": f"{len(folds)} folds of subscribers, each calibrated to {margin} of the targets on its "
                        "last days, after its earlier days and alone (a cold start); each threshold is the "
                        "highest of these calibrations'",
        "targets": targets,
        "margin": margin,
        "folds": [entry(t) for t in folds],
        "cold_starts": [entry(t) for t in cold],
    }
    for count in ("events", "labelled_events", "replayed_events"):
        if all(count in t["calibration"] for t in folds):
            calibration[count] = sum(t["calibration"][count] for t in folds)
    if "since" in folds[0]["calibration"]:
        calibration["since"] = folds[0]["calibration"]["since"]
    out = {"model_version": model_version, "review": max(t["review"] for t in folds + cold),
           "block": strictest["block"]}
    if "escalation" in strictest:
        out["escalation"] = strictest["escalation"]
    return out | {"calibration": calibration}


def report_out_of_fold(a, folds, thresholds, since, last):
    """The operating point on the last days, out of fold: each fold's model (which never saw
    that fold's last days) with the thresholds written, on that fold's subscribers."""
    with open(thresholds, encoding="utf-8") as f:
        t = json.load(f)
    report = os.path.join(a.model_out, "report.md")
    with open(report, encoding="utf-8") as f:
        title, rest = f.read().split("\n", 1)
    with open(report, "w", encoding="utf-8") as f:
        # The time-split figures that follow the title are the validation model's, at its own thresholds.
        f.write(f"{title}\n\n**Thresholds written: REVIEW at >= {t['review']:.6f}, BLOCK at >= {t['block']:.6f}**, "
                f"cross-fitted on the last days (the out-of-fold section at the end). The thresholds in the "
                f"next paragraph are the validation model's own at the targets, for its metrics only; its "
                f"validation rows are the last days twice, replayed after the earlier days and from a cold "
                f"start.\n{rest}")
        f.write(f"\n## Operating point on the last days, out of fold\n\nThe thresholds written (REVIEW at "
                f">= {t['review']:.6f}, BLOCK at >= {t['block']:.6f}), on {os.path.abspath(a.data)}'s events from "
                f"{since} to {rfc3339(last)}. The model written learnt from those days too, so each fold of "
                f"subscribers is scored by the model trained without its last days: `roamguard evaluate "
                f"--markdown --since {since}`.\n")
        written = ["--review-threshold", repr(t["review"]), "--block-threshold", repr(t["block"]), "--markdown"]
        for k, fold in enumerate(folds):
            model = ["--model-dir", os.path.join(fold, "model")]
            f.write(f"\n### Fold {k + 1} of {FOLDS}, after the earlier days\n\n")
            f.flush()
            run(a.cli, "evaluate", *model, *written, "--since", since, *fold_files(fold), stdout=f)
            f.write(f"\n### Fold {k + 1} of {FOLDS}, the last days alone (a cold start: no history yet)\n\n")
            f.flush()
            run(a.cli, "evaluate", *model, *written, *cold_start_files(fold), stdout=f)

if __name__ == "__main__":
    main(sys.argv[1:])
