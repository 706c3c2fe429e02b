#!/usr/bin/env python3
"""Train RoamGuard's fraud model (XGBoost, binary:logistic) from feature CSVs exported by
`roamguard export-features`.

Runs locally (`make train`) and, unchanged, as a SageMaker XGBoost script-mode entry point:
  * data channels come from SM_CHANNEL_TRAIN / SM_CHANNEL_VALIDATION (directories of CSV files),
  * artifacts go to SM_MODEL_DIR,
  * hyperparameters arrive as `--name value` arguments (both `--num-round` and `--num_round` work),
  * `model_fn` lets the XGBoost serving container load model.json for `text/csv` inference.

Input CSV: header `label,fraud_type,<features...>`; empty field = missing.
Outputs (in the model directory):
  model.json     XGBoost JSON model (what the Rust evaluator and SageMaker load)
  metadata.json  model_version, feature_names (column order), thresholds chosen for target
                 false-positive rates, training metrics (overall and per fraud type),
                 per-feature baseline histograms and the histogram of the model's scores on the
                 training rows, for drift checks (`roamguard drift`)
  parity.csv     >= 1,000 validation rows with xgboost's probability and pred_contribs, so the
                 Rust evaluator can prove it computes the same numbers
  report.md      the evaluation as a Markdown table
"""

import argparse
import glob
import hashlib
import json
import os
import sys

import numpy as np
import pandas as pd
import xgboost as xgb

LABEL, FRAUD_TYPE = "label", "fraud_type"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)

    def arg(name, **kw):
        # SageMaker passes hyperparameters with the names they were given; accept both spellings.
        p.add_argument("--" + name, "--" + name.replace("-", "_"), **kw)

    arg("train", nargs="+", default=[os.environ.get("SM_CHANNEL_TRAIN", "out/train")],
        help="training CSVs: directories of them, or files")
    arg("validation", default=os.environ.get("SM_CHANNEL_VALIDATION", "out/validation"),
        help="directory of held-out CSVs (thresholds, metrics and parity rows come from here)")
    arg("model-dir", default=os.environ.get("SM_MODEL_DIR", "models"), help="where artifacts are written")
    arg("num-round", type=int, default=120)
    arg("max-depth", type=int, default=5)
    arg("eta", type=float, default=0.1)
    arg("min-child-weight", type=float, default=5.0)
    arg("subsample", type=float, default=0.8)
    arg("colsample-bytree", type=float, default=0.8)
    arg("seed", type=int, default=7)
    arg("nthread", type=int, default=2)
    arg("review-fpr", type=float, default=0.005, help="target false-positive rate of REVIEW-or-worse")
    arg("block-fpr", type=float, default=0.0005, help="target false-positive rate of BLOCK")
    arg("parity-rows", type=int, default=1200)
    arg("base-model", help="a model.json to continue from: num-round more trees are boosted on top of its own "
        "(its feature names must be the CSVs' columns)")
    p.add_argument("--refit", action="store_true",
                   help="after validating, train again on the training and validation rows together (same "
                   "parameters) and write that model; the metrics stay those of the validation")
    return p.parse_args(argv)


def read_dir(*paths):
    """The rows of CSV files, or of the CSV files in directories, in order."""
    files = []
    for path in paths:
        found = sorted(glob.glob(os.path.join(path, "*.csv"))) if os.path.isdir(path) else [path]
        if not found:
            sys.exit(f"no CSV files in {path}")
        files += found
    # Only an empty field is missing (no "NA"/"null" guessing); features parse as float32.
    frames = [pd.read_csv(f, keep_default_na=False, na_values=[""], dtype={FRAUD_TYPE: "string"}) for f in files]
    df = pd.concat(frames, ignore_index=True)
    features = [c for c in df.columns if c not in (LABEL, FRAUD_TYPE)]
    x = df[features].astype(np.float32).to_numpy()
    y = df[LABEL].astype(np.int32).to_numpy()
    types = df[FRAUD_TYPE].fillna("").astype(str).to_numpy()
    return x, y, types, features


def average_precision(y, s):
    """Area under the precision-recall curve (step-wise, as sklearn's average_precision_score), to
    4 decimals; None without fraud rows (JSON has no NaN: the CLI could not read the metadata)."""
    if y.sum() == 0:
        return None
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    # Group ties: precision/recall evaluated at each distinct score.
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(y)[distinct]
    fp = (distinct + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / y.sum()
    recall_prev = np.r_[0.0, recall[:-1]]
    return round(float(np.sum((recall - recall_prev) * precision)), 4)


def threshold_for_fpr(negative_scores, fpr):
    """Smallest threshold whose share of negatives scoring >= it is at most `fpr`."""
    s = np.sort(negative_scores)[::-1]
    k = int(np.floor(fpr * len(s)))
    if k >= len(s):
        return float(s[-1])
    # Scores >= threshold must be at most k negatives: put it just above the (k+1)-th highest.
    return float(np.nextafter(np.float32(s[k]), np.float32(1.0)))


def rates(y, s, t):
    flagged = s >= t
    tp = int((flagged & (y == 1)).sum())
    fp = int((flagged & (y == 0)).sum())
    return {
        "threshold": round(float(t), 6),
        "recall": round(tp / max(1, int(y.sum())), 4),
        "precision": round(tp / max(1, tp + fp), 4),
        "fpr": round(fp / max(1, int((y == 0).sum())), 6),
    }


def histograms(x, names, bins=10):
    out = {}
    for j, name in enumerate(names):
        col = x[:, j]
        present = col[~np.isnan(col)]
        entry = {"missing_share": round(float(1 - len(present) / len(col)), 6)}
        if len(present):
            edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)))
            counts, _ = np.histogram(present, bins=edges) if len(edges) > 1 else (np.array([len(present)]), None)
            entry["edges"] = [float(e) for e in edges]
            entry["shares"] = [round(float(c) / len(present), 6) for c in counts]
        out[name] = entry
    return out


def score_histogram(scores, bins=10):
    """The model's scores on the training rows, binned as `histograms` bins a feature: the
    baseline of `roamguard drift`'s score line."""
    return histograms(np.asarray(scores, dtype=np.float32).reshape(-1, 1), ["score"], bins)["score"]


def base_model(path, names):
    """The model to continue from (a fresh copy each time), or None; refused unless its features
    are `names`, in order."""
    if not path:
        return None
    booster = xgb.Booster()
    booster.load_model(path)
    if booster.feature_names != names:
        sys.exit(f"{path}: its features are not the CSVs' columns (exported by another version?): "
                 f"{booster.feature_names} vs {names}")
    return booster


def base_model_version(path):
    """The base model's version from the metadata.json beside it, else its file's digest."""
    meta = os.path.join(os.path.dirname(path), "metadata.json")
    if os.path.isfile(meta):
        with open(meta, encoding="utf-8") as f:
            return json.load(f).get("model_version")
    with open(path, "rb") as f:
        return f"xgb-{hashlib.sha256(f.read()).hexdigest()[:12]}"


def model_fn(model_dir):
    """SageMaker XGBoost serving hook: load the JSON model for text/csv inference."""
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, "model.json"))
    return booster


def main(argv):
    a = parse_args(argv)
    os.makedirs(a.model_dir, exist_ok=True)
    x_train, y_train, _, names = read_dir(*a.train)
    x_val, y_val, types_val, names_val = read_dir(a.validation)
    if names != names_val:
        sys.exit("training and validation CSVs have different feature columns")
    print(f"train: {len(y_train)} rows ({y_train.mean():.2%} fraud); validation: {len(y_val)} rows "
          f"({y_val.mean():.2%} fraud); {len(names)} features", flush=True)

    params = {
        "objective": "binary:logistic",
        "eval_metric": ["aucpr", "logloss"],
        "tree_method": "hist",
        "max_depth": a.max_depth,
        "eta": a.eta,
        "min_child_weight": a.min_child_weight,
        "subsample": a.subsample,
        "colsample_bytree": a.colsample_bytree,
        "seed": a.seed,
        "nthread": a.nthread,
    }
    dtrain = xgb.DMatrix(x_train, label=y_train, missing=np.nan, feature_names=names)
    dval = xgb.DMatrix(x_val, label=y_val, missing=np.nan, feature_names=names)
    booster = xgb.train(params, dtrain, num_boost_round=a.num_round, evals=[(dval, "validation")],
                        verbose_eval=50, xgb_model=base_model(a.base_model, names))

    s_val = booster.predict(dval)
    review = threshold_for_fpr(s_val[y_val == 0], a.review_fpr)
    block = max(review, threshold_for_fpr(s_val[y_val == 0], a.block_fpr))

    per_type = {}
    for t in sorted(set(types_val) - {""}):
        mask = (types_val == t) | (y_val == 0)
        yt, st = y_val[mask], s_val[mask]
        per_type[t] = {
            "events": int((types_val == t).sum()),
            "pr_auc": average_precision(yt, st),
            "recall_at_review": rates(yt, st, review)["recall"],
            "recall_at_block": rates(yt, st, block)["recall"],
        }
    metrics = {
        "train_rows": int(len(y_train)),
        "validation_rows": int(len(y_val)),
        "validation_fraud_share": round(float(y_val.mean()), 6),
        "pr_auc": average_precision(y_val, s_val),
        "review": rates(y_val, s_val, review),
        "block": rates(y_val, s_val, block),
        "per_fraud_type": per_type,
        "params": {k: v for k, v in params.items() if k != "eval_metric"} | {"num_round": a.num_round},
        "xgboost_version": xgb.__version__,
    }
    if a.refit:
        # The recipe is validated above; the model written learns from the validation rows too (the
        # most recent ones, when they are the last days of a history). Its thresholds still need a
        # calibration on rows it has not seen (train_on_data.py cross-fits one).
        x_train, y_train = np.vstack([x_train, x_val]), np.concatenate([y_train, y_val])
        dtrain = xgb.DMatrix(x_train, label=y_train, missing=np.nan, feature_names=names)
        booster = xgb.train(params, dtrain, num_boost_round=a.num_round, xgb_model=base_model(a.base_model, names))
        metrics["refit_rows"] = int(len(y_train))
    if a.base_model:
        metrics["base_model"] = base_model_version(a.base_model)

    model_path = os.path.join(a.model_dir, "model.json")
    booster.save_model(model_path)
    with open(model_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    metadata = {
        "model_version": f"xgb-{digest}",
        "feature_names": names,
        "thresholds": {"review": review, "block": block},
        "threshold_targets": {"review_fpr": a.review_fpr, "block_fpr": a.block_fpr},
        "training": metrics,
        "baseline_histograms": histograms(x_train, names),
        "baseline_score_histogram": score_histogram(booster.predict(dtrain)),
    }
    with open(os.path.join(a.model_dir, "metadata.json"), "w", encoding="utf-8") as f:
        json.dump(metadata, f, indent=1, allow_nan=False)
        f.write("\n")

    write_parity(booster, x_val, y_val, names, a.parity_rows, a.seed, os.path.join(a.model_dir, "parity.csv"))
    report = render_report(metadata)
    with open(os.path.join(a.model_dir, "report.md"), "w", encoding="utf-8") as f:
        f.write(report)
    print(report)


def write_parity(booster, x, y, names, n, seed, path):
    """Parity rows: every fraud type and plenty of missing values, with xgboost's outputs."""
    rng = np.random.default_rng(seed)
    fraud = np.nonzero(y == 1)[0]
    normal = np.nonzero(y == 0)[0]
    take = np.r_[rng.choice(fraud, min(len(fraud), n // 3), replace=False),
                 rng.choice(normal, min(len(normal), n - min(len(fraud), n // 3)), replace=False)]
    rows = x[np.sort(take)]
    d = xgb.DMatrix(rows, missing=np.nan, feature_names=names)
    prob = booster.predict(d)
    contribs = booster.predict(d, pred_contribs=True)
    header = [f"f{i}" for i in range(len(names))] + ["prob"] + [f"contrib_{i}" for i in range(len(names) + 1)]
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(header) + "\n")
        for r, p, c in zip(rows, prob, contribs):
            fields = ["" if np.isnan(v) else repr(float(v)) for v in r]
            fields.append(repr(float(p)))
            fields.extend(repr(float(v)) for v in c)
            f.write(",".join(fields) + "\n")


def render_report(meta):
    m = meta["training"]
    pr_auc = m["pr_auc"] if m["pr_auc"] is not None else "n/a (no fraud in the validation rows)"
    lines = [
        f"Model `{meta['model_version']}` — held-out validation set: {m['validation_rows']} rows, "
        f"{m['validation_fraud_share']:.2%} fraud.",
        "",
        f"Overall PR-AUC **{pr_auc}**. REVIEW threshold {m['review']['threshold']} "
        f"(FPR {m['review']['fpr']}, precision {m['review']['precision']}, recall {m['review']['recall']}); "
        f"BLOCK threshold {m['block']['threshold']} (FPR {m['block']['fpr']}, precision {m['block']['precision']}, "
        f"recall {m['block']['recall']}).",
        "",
    ]
    if "base_model" in m:
        lines += [f"Boosted on top of model `{m['base_model']}`: its trees, then {m['params']['num_round']} more "
                  f"from these rows.", ""]
    if "refit_rows" in m:
        lines += [f"The model written was trained again after this validation, on the training and validation "
                  f"rows together ({m['refit_rows']} rows, same parameters): these figures are its recipe's.", ""]
    lines += [
        "| fraud type | events | PR-AUC vs normal | recall at REVIEW | recall at BLOCK |",
        "|---|---:|---:|---:|---:|",
    ]
    for t, v in m["per_fraud_type"].items():
        lines.append(f"| {t} | {v['events']} | {v['pr_auc']} | {v['recall_at_review']} | {v['recall_at_block']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main(sys.argv[1:])
