"""Build the small XGBoost parity fixture used by `shared/core/tests/xgboost_parity.rs`.

The Rust evaluator (`roamguard::model::xgboost`) must reproduce Python xgboost's
probabilities (<= 1e-6) and exact TreeSHAP contributions (<= 1e-5). This script
trains a small but non-trivial `binary:logistic` model with a fixed seed and
writes, into the output directory:

* ``model.json`` -- ``booster.save_model("model.json")`` (xgboost 3.x JSON)
* ``model.ubj``  -- the same booster in UBJSON (``save_model("model.ubj")``)
* ``parity.csv`` -- header ``f0..f{N-1},prob,contrib_0..contrib_N``; one row per
  sample, empty cell for a missing feature, ``prob`` from ``inplace_predict``,
  contributions from ``predict(DMatrix, pred_contribs=True)`` (last = bias).

The data deliberately contains ~10% NaN, integer-valued / tied features (so split
thresholds coincide with feature values and the ``<`` rule matters), a constant
feature and a heavy-tailed feature. The parity rows also include rows that are
entirely missing and rows whose values sit exactly on split thresholds.

Usage (from the repo root)::

    .venv/bin/python training/make_parity_fixture.py \
        --out shared/core/tests/fixtures/xgb_small

``write_parity_csv`` is reusable for the production model (models/parity.csv).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import xgboost as xgb

SEED = 20240611
N_FEATURES = 10
N_TRAIN = 4000
N_PARITY = 1200


def make_data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic roaming-ish features with ties, NaNs and a known signal."""
    x = np.empty((n, N_FEATURES), dtype=np.float32)
    x[:, 0] = rng.normal(0.0, 1.0, n)  # continuous
    x[:, 1] = rng.integers(0, 6, n)  # small integer (ties, thresholds on values)
    x[:, 2] = rng.exponential(50.0, n)  # heavy tail (e.g. call minutes)
    x[:, 3] = rng.integers(0, 2, n)  # binary flag
    x[:, 4] = rng.uniform(-3.0, 3.0, n)
    x[:, 5] = np.round(rng.normal(10.0, 3.0, n), 1)  # one decimal -> many ties
    x[:, 6] = rng.integers(0, 100, n)  # count
    x[:, 7] = rng.normal(0.0, 1.0, n) * 1e-3  # tiny scale
    x[:, 8] = rng.lognormal(0.0, 1.5, n)
    x[:, 9] = 1.0  # constant (never split on)
    logit = (
        1.2 * x[:, 0]
        + 0.6 * (x[:, 1] >= 3)
        + 0.01 * np.minimum(x[:, 2], 200.0)
        - 1.0 * x[:, 3]
        + 0.5 * np.sin(x[:, 4] * 2.0)
        + 0.2 * (x[:, 5] - 10.0)
        + 0.01 * (x[:, 6] - 50.0)
        + 400.0 * x[:, 7]
        - 1.5
    )
    y = (rng.uniform(0.0, 1.0, n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
    mask = rng.uniform(0.0, 1.0, x.shape) < 0.10
    mask[:, 9] = False
    x[mask] = np.nan
    return x, y


def split_thresholds(booster: xgb.Booster) -> dict[int, list[float]]:
    """Collect split thresholds per feature from the JSON dump of the model."""
    model = json.loads(booster.save_raw("json"))
    out: dict[int, list[float]] = {}
    for tree in model["learner"]["gradient_booster"]["model"]["trees"]:
        for i, left in enumerate(tree["left_children"]):
            if left != -1:
                out.setdefault(tree["split_indices"][i], []).append(
                    tree["split_conditions"][i]
                )
    return out


def fmt(v: float) -> str:
    """Full float32 precision; empty string for missing."""
    return "" if np.isnan(v) else "%.9g" % v


def write_parity_csv(booster: xgb.Booster, x: np.ndarray, path: Path) -> None:
    """Write ``f*, prob, contrib_*`` rows as consumed by the Rust parity test."""
    n_features = x.shape[1]
    prob = booster.inplace_predict(x, missing=np.nan)
    contribs = booster.predict(xgb.DMatrix(x, missing=np.nan), pred_contribs=True)
    assert contribs.shape == (x.shape[0], n_features + 1)
    header = (
        [f"f{i}" for i in range(n_features)]
        + ["prob"]
        + [f"contrib_{i}" for i in range(n_features + 1)]
    )
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(",".join(header) + "\n")
        for r in range(x.shape[0]):
            cells = [fmt(v) for v in x[r]] + [fmt(prob[r])] + [fmt(c) for c in contribs[r]]
            fh.write(",".join(cells) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("shared/core/tests/fixtures/xgb_small"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(SEED)
    x_train, y_train = make_data(rng, N_TRAIN)
    dtrain = xgb.DMatrix(
        x_train,
        label=y_train,
        missing=np.nan,
        feature_names=[f"f{i}" for i in range(N_FEATURES)],
    )
    params = {
        "objective": "binary:logistic",
        "max_depth": 5,
        "eta": 0.15,
        "subsample": 0.9,
        "colsample_bytree": 0.9,
        "min_child_weight": 2.0,
        "tree_method": "hist",
        "seed": SEED,
        "nthread": 1,
    }
    booster = xgb.train(params, dtrain, num_boost_round=60)
    booster.save_model(str(args.out / "model.json"))
    booster.save_model(str(args.out / "model.ubj"))

    # Parity rows: fresh samples, plus adversarial rows (all missing, values
    # exactly on split thresholds, and just below them).
    x_parity, _ = make_data(rng, N_PARITY)
    extra = [np.full(N_FEATURES, np.nan, dtype=np.float32)]
    thresholds = split_thresholds(booster)
    for k in range(40):
        row = x_parity[k].copy()
        for feat, values in thresholds.items():
            t = np.float32(values[k % len(values)])
            row[feat] = t if k % 2 == 0 else np.nextafter(t, np.float32(-np.inf))
        extra.append(row)
    x_all = np.vstack([x_parity, np.array(extra, dtype=np.float32)]).astype(np.float32)
    # Feature names are not part of the parity input: predict on plain arrays.
    booster.feature_names = None
    write_parity_csv(booster, x_all, args.out / "parity.csv")
    print(f"wrote {args.out} ({x_all.shape[0]} parity rows)")


if __name__ == "__main__":
    main()
