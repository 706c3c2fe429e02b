"""Smoke test of the training pipeline: the Rust CLI generates and exports features, train.py
trains as SageMaker script mode would run it (SM_* environment variables), and the Rust
`roamguard predict` reproduces xgboost's probabilities on the parity rows."""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.environ.get("ROAMGUARD", os.path.join(HERE, "..", "target", "debug", "roamguard"))

sys.path.insert(0, HERE)
import train_on_data  # noqa: E402


def run(*args, env=None):
    subprocess.run(args, check=True, env=env, stdout=subprocess.PIPE)


def train_on_history(t):
    """train_on_data.py (what `make train DATA=` runs) on t/data into t/model, working in t/work;
    its stdout and stderr kept."""
    return subprocess.run([sys.executable, os.path.join(HERE, "train_on_data.py"), "--cli", CLI, "--data", f"{t}/data",
                           "--model-out", f"{t}/model", "--work", f"{t}/work"], capture_output=True, text=True)


def trees(model_json):
    with open(model_json) as f:
        return len(json.load(f)["learner"]["gradient_booster"]["model"]["trees"])


class TrainScriptModeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        t = cls.tmp.name
        for name, seed in (("train", 11), ("validation", 12)):
            run(CLI, "generate", "--subscribers", "300", "--days", "3", "--seed", str(seed),
                "--fraud-share", "0.15", "--out", f"{t}/{name}-data")
            os.makedirs(f"{t}/{name}")
            run(CLI, "export-features", "--data", f"{t}/{name}-data", "--out", f"{t}/{name}/features.csv")
        env = dict(os.environ, SM_CHANNEL_TRAIN=f"{t}/train", SM_CHANNEL_VALIDATION=f"{t}/validation",
                   SM_MODEL_DIR=f"{t}/model")
        # Hyperparameters the way SageMaker passes them: underscores, string values.
        run(sys.executable, os.path.join(HERE, "train.py"), "--num_round", "20", "--max_depth", "4",
            "--parity_rows", "300", env=env)
        cls.model_dir = f"{t}/model"

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_when_trained_should_write_model_metadata_parity_and_report(self):
        for name in ("model.json", "metadata.json", "parity.csv", "report.md"):
            self.assertTrue(os.path.getsize(os.path.join(self.model_dir, name)) > 0, name)
        with open(os.path.join(self.model_dir, "metadata.json")) as f:
            meta = json.load(f)
        with open(os.path.join(self.tmp.name, "train", "features.csv")) as f:
            header = f.readline().strip().split(",")
        self.assertEqual(meta["feature_names"], header[2:])
        self.assertLessEqual(meta["thresholds"]["review"], meta["thresholds"]["block"])
        self.assertTrue(meta["model_version"].startswith("xgb-"))
        self.assertIn("per_fraud_type", meta["training"])
        self.assertEqual(set(meta["baseline_histograms"]), set(header[2:]))
        score = meta["baseline_score_histogram"]  # what `roamguard drift` compares scores with
        self.assertAlmostEqual(sum(score["shares"]), 1.0, places=4)
        self.assertEqual(len(score["edges"]), len(score["shares"]) + 1)

    def test_when_rust_predicts_parity_rows_should_match_xgboost(self):
        with open(os.path.join(self.model_dir, "parity.csv")) as f:
            rows = list(csv.reader(f))
        n = len([c for c in rows[0] if c.startswith("f")])
        features = "\n".join(",".join(r[:n]) for r in rows[1:]) + "\n"
        expected = [float(r[n]) for r in rows[1:]]
        out = subprocess.run([CLI, "predict", "--model", os.path.join(self.model_dir, "model.json")],
                             input=features, capture_output=True, text=True, check=True).stdout.split()
        self.assertEqual(len(out), len(expected))
        worst = max(abs(float(a) - b) for a, b in zip(out, expected))
        self.assertLessEqual(worst, 1e-6)

    def test_when_calibrated_thresholds_are_set_should_the_model_decide_with_them(self):
        t, data = self.tmp.name, f"{self.tmp.name}/validation-data"
        history = ["--profiles", f"{data}/profiles.jsonl", "--events", f"{data}/events.jsonl",
                   "--labels", f"{data}/labels.jsonl"]
        run(CLI, "calibrate", "--model-dir", self.model_dir, *history, "--out", f"{t}/thresholds.json")
        with open(f"{t}/thresholds.json") as f:
            calibrated = json.load(f)
        run(sys.executable, os.path.join(HERE, "set_thresholds.py"), "--model-dir", self.model_dir,
            "--thresholds", f"{t}/thresholds.json", "--calibrated-on", "validation set")
        with open(os.path.join(self.model_dir, "metadata.json")) as f:
            meta = json.load(f)
        self.assertEqual(meta["thresholds"], {"review": calibrated["review"], "block": calibrated["block"]})
        self.assertEqual(meta["escalation"], calibrated["escalation"])
        self.assertEqual(meta["calibration"]["calibrated_on"], "validation set")
        out = subprocess.run([CLI, "evaluate", "--model-dir", self.model_dir, *history],
                             capture_output=True, text=True, check=True).stdout
        self.assertIn(f"REVIEW at ≥ {calibrated['review']:.6f}", out)
        # A file made for another model is refused and the metadata left as it was.
        calibrated["model_version"] = "xgb-another"
        with open(f"{t}/other.json", "w") as f:
            json.dump(calibrated, f)
        refused = subprocess.run([sys.executable, os.path.join(HERE, "set_thresholds.py"), "--model-dir",
                                  self.model_dir, "--thresholds", f"{t}/other.json", "--calibrated-on", "x"],
                                 capture_output=True, text=True)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("xgb-another", refused.stderr)
        with open(os.path.join(self.model_dir, "metadata.json")) as f:
            self.assertEqual(json.load(f), meta)

    def test_when_continued_from_a_base_model_should_add_trees_on_top_and_refuse_other_features(self):
        t = self.tmp.name
        base = os.path.join(self.model_dir, "model.json")
        run(sys.executable, os.path.join(HERE, "train.py"), "--train", f"{t}/train", "--validation",
            f"{t}/validation", "--model-dir", f"{t}/continued", "--num-round", "5", "--parity-rows", "100",
            "--base-model", base)
        with open(f"{t}/continued/metadata.json") as f:
            training = json.load(f)["training"]
        with open(os.path.join(self.model_dir, "metadata.json")) as f:
            self.assertEqual(training["base_model"], json.load(f)["model_version"])
        self.assertEqual(trees(f"{t}/continued/model.json"), trees(base) + 5)
        # A base model over other features is refused.
        other = subprocess.run([sys.executable, "-c", "import sys, numpy as np, xgboost as xgb; "
                                "d = xgb.DMatrix(np.random.rand(50, 3), label=np.r_[np.zeros(25), np.ones(25)], "
                                "feature_names=['a', 'b', 'c']); xgb.train({}, d, 2).save_model(sys.argv[1])",
                                f"{t}/other.json"], capture_output=True, text=True)
        self.assertEqual(other.returncode, 0, other.stderr)
        refused = subprocess.run([sys.executable, os.path.join(HERE, "train.py"), "--train", f"{t}/train",
                                  "--validation", f"{t}/validation", "--model-dir", f"{t}/refused",
                                  "--num-round", "2", "--base-model", f"{t}/other.json"],
                                 capture_output=True, text=True)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("its features are not the CSVs' columns", refused.stderr)

    def test_when_serving_hook_loads_model_should_predict(self):
        sys.path.insert(0, HERE)
        import train  # noqa: E402  (the SageMaker entry point module itself)

        booster = train.model_fn(self.model_dir)
        with open(os.path.join(self.model_dir, "metadata.json")) as f:
            self.assertEqual(booster.num_features(), len(json.load(f)["feature_names"]))


class TrainOnDataTest(unittest.TestCase):
    """`make train DATA=dir MODEL_OUT=dir`: training/train_on_data.py, the script the Makefile runs,
    on a small generated history (the last of its 3 days validates)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        t = cls.tmp.name
        cls.data, cls.model_dir = f"{t}/data", f"{t}/model"
        run(CLI, "generate", "--subscribers", "300", "--days", "3", "--seed", "13", "--fraud-share", "0.15",
            "--out", cls.data)
        # Label v1 as an operator's export gives it: legitimate events unlabelled, free-text types.
        with open(f"{cls.data}/labels.jsonl") as f:
            labels = [json.loads(line) for line in f]
        with open(f"{cls.data}/labels.jsonl", "w") as f:
            for label in labels:
                if label["fraud"]:
                    label["fraud_type"] = label["fraud_type"].replace("_", " ") + ", confirmed"
                    f.write(json.dumps(label) + "\n")
        run(sys.executable, os.path.join(HERE, "train_on_data.py"), "--cli", CLI, "--data", cls.data,
            "--model-out", cls.model_dir, "--work", f"{t}/work", "--", "--num-round", "20", "--parity-rows", "300")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_when_trained_on_data_should_write_a_complete_calibrated_model_directory(self):
        for name in ("model.json", "metadata.json", "parity.csv", "report.md"):
            self.assertTrue(os.path.getsize(os.path.join(self.model_dir, name)) > 0, name)
        with open(os.path.join(self.model_dir, "metadata.json")) as f:
            meta = json.load(f)
        with open(os.path.join(self.tmp.name, "work", "thresholds.json")) as f:
            calibrated = json.load(f)
        self.assertEqual(meta["thresholds"], {"review": calibrated["review"], "block": calibrated["block"]})
        self.assertEqual(calibrated["model_version"], meta["model_version"])
        self.assertIn("events from 2026-06-03T00:00:00Z", meta["calibration"]["calibrated_on"])
        folds = meta["calibration"]["folds"]
        self.assertEqual(len(folds), 2)
        for fold in folds:
            self.assertIn("operating_point", fold)
            # Each fold calibrated to 0.7 of the targets; the model keeps the targets themselves.
            self.assertEqual(fold["targets"], {"flag_fpr": 0.0035, "block_fpr": 0.00035})
            self.assertNotEqual(fold["model_version"], meta["model_version"])  # each fold's own model
        # And each fold's last day alone, from an empty live state (a cold start).
        cold = meta["calibration"]["cold_starts"]
        self.assertEqual([c["model_version"] for c in cold], [f["model_version"] for f in folds])
        for c, f in zip(cold, folds):
            self.assertEqual(c["targets"], f["targets"])
            self.assertEqual(c["events"], f["events"])  # the same events...
            self.assertNotIn("since", c)  # ...without the days before them
            self.assertLess(c["events"], f["replayed_events"])
        # Each threshold the highest of the four calibrations.
        self.assertEqual(meta["thresholds"]["review"], max(f["review"] for f in folds + cold))
        self.assertEqual(meta["thresholds"]["block"], max(f["block"] for f in folds + cold))
        self.assertEqual(meta["calibration"]["events"], sum(f["events"] for f in folds))
        self.assertEqual(meta["threshold_targets"], {"review_fpr": 0.005, "block_fpr": 0.0005})
        # Boosted on top of the checkout's models/ (20 rounds: TRAIN_ARGS of this test).
        with open(os.path.join(HERE, "..", "models", "metadata.json")) as f:
            self.assertEqual(meta["training"]["base_model"], json.load(f)["model_version"])
        base = os.path.join(HERE, "..", "models", "model.json")
        self.assertEqual(trees(os.path.join(self.model_dir, "model.json")), trees(base) + 20)
        names = subprocess.run([CLI, "export-features", "--data", self.data, "--out", f"{self.tmp.name}/all.csv"],
                               check=True, capture_output=True)
        self.assertIn(b"counted as legitimate", names.stderr)
        with open(f"{self.tmp.name}/all.csv") as f:
            header = f.readline().strip().split(",")
        self.assertEqual(meta["feature_names"], header[2:])
        with open(os.path.join(self.model_dir, "report.md")) as f:
            report = f.read()
        self.assertIn("--since 2026-06-03T00:00:00Z", report)
        self.assertEqual(report.count("legitimate events flagged"), 4, report)  # a fold: with history, cold
        # The thresholds written lead the report, as metadata.json holds them.
        t = meta["thresholds"]
        self.assertIn(f"Thresholds written: REVIEW at >= {t['review']:.6f}, BLOCK at >= {t['block']:.6f}",
                      report.split("\n")[2])

    def rows(self, part, fold):
        with open(os.path.join(self.tmp.name, "work", part, f"{fold}.csv")) as f:
            return list(csv.DictReader(f))

    def test_when_split_in_time_should_train_before_and_validate_from_the_last_day(self):
        rows = {part: self.rows(part, "fold-0") + self.rows(part, "fold-1") for part in ("train", "validation")}
        with open(f"{self.data}/events.jsonl") as f:
            times = [json.loads(line)["event_time"] for line in f]
        late = sum(t >= "2026-06-03" for t in times)
        self.assertEqual(len(rows["validation"]), late)
        self.assertEqual(len(rows["train"]) + len(rows["validation"]), len(times))
        with open(os.path.join(self.model_dir, "metadata.json")) as f:
            training = json.load(f)["training"]
        # Validated on the last day, replayed after the days before it and from a cold start, then
        # trained again on all these rows.
        self.assertEqual(training["validation_rows"], 2 * late)
        self.assertEqual(training["refit_rows"], len(times) + late)
        types = {r["fraud_type"] for r in rows["train"]} - {""}
        self.assertIn("simbox, confirmed", types)  # free text, quoted in the CSV
        self.assertTrue(all(r["fraud_type"] == "" for r in rows["train"] if r["label"] == "0"))

    def test_when_the_last_day_is_replayed_from_a_cold_start_should_train_the_folds_on_it_too(self):
        for k in (0, 1):
            warm, cold = self.rows("validation", f"fold-{k}"), self.rows("validation", f"fold-{k}-cold-start")
            # The same events, in the same order...
            labels = [[(r["label"], r["fraud_type"]) for r in rows] for rows in (warm, cold)]
            self.assertEqual(labels[1], labels[0])
            # ...without the days before them: no subscriber has completed a day in its live state.
            self.assertEqual({r["history_days"] for r in cold}, {"0"})
            self.assertTrue(any(float(r["history_days"]) > 0 for r in warm))
            # Fold k's model learnt from every row but fold k's last day, in either replay.
            with open(os.path.join(self.tmp.name, "work", f"fold-{k}", "model", "metadata.json")) as f:
                training = json.load(f)["training"]
            other = f"fold-{1 - k}"
            learnt = [("train", "fold-0"), ("train", "fold-1"), ("validation", other),
                      ("validation", f"{other}-cold-start")]
            self.assertEqual(training["train_rows"], sum(len(self.rows(*csv_file)) for csv_file in learnt))
            self.assertEqual(training["validation_rows"], len(warm))

    def test_when_split_by_subscriber_should_keep_every_line_and_each_subscriber_in_one_fold(self):
        work = os.path.join(self.tmp.name, "work")
        for name in ("profiles", "events", "labels"):
            with open(f"{self.data}/{name}.jsonl") as f:
                whole = [json.loads(line) for line in f]
            parts = []
            for fold in ("fold-0", "fold-1"):
                with open(os.path.join(work, fold, f"{name}.jsonl")) as f:
                    lines = f.read().splitlines()
                if name != "events":
                    # Each profile and label at its line number in DATA, a blank line in the other fold.
                    self.assertEqual(len(lines), len(whole))
                parts.append([json.loads(line) for line in lines if line])
            self.assertTrue(all(parts), name)  # both folds hold some
            self.assertCountEqual(parts[0] + parts[1], whole, name)
            if name == "events":
                imsis = [{e["imsi"] for e in part} for part in parts]
                self.assertFalse(imsis[0] & imsis[1])
                event_fold = {e["event_id"]: k for k, part in enumerate(parts) for e in part}
                # Each fold's events in the history's order.
                order = {e["event_id"]: i for i, e in enumerate(whole)}
                for part in parts:
                    self.assertEqual([order[e["event_id"]] for e in part], sorted(order[e["event_id"]] for e in part))
            if name == "labels":
                for k, part in enumerate(parts):
                    self.assertTrue(all(event_fold[label["event_id"]] == k for label in part))

    def test_when_the_model_directory_is_loaded_should_evaluate(self):
        out = subprocess.run([CLI, "evaluate", "--model-dir", self.model_dir, "--profiles",
                              f"{self.data}/profiles.jsonl", "--events", f"{self.data}/events.jsonl", "--labels",
                              f"{self.data}/labels.jsonl"], capture_output=True, text=True, check=True).stdout
        with open(os.path.join(self.model_dir, "metadata.json")) as f:
            meta = json.load(f)
        self.assertIn(f"model {meta['model_version']}", out)


class TrainOnTooSmallDataTest(unittest.TestCase):
    def test_when_a_fold_of_subscribers_is_empty_should_say_what_is_missing(self):
        with tempfile.TemporaryDirectory() as t:
            run(CLI, "generate", "--subscribers", "1", "--days", "2", "--seed", "3", "--out", f"{t}/data")
            out = train_on_history(t)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("each of the 2 folds of subscribers needs events before and after 2026-06-02T00:00:00Z",
                      out.stderr)

    def test_when_a_fold_validates_on_days_without_fraud_should_still_write_a_loadable_model(self):
        with tempfile.TemporaryDirectory() as t:
            run(CLI, "generate", "--subscribers", "20", "--days", "2", "--seed", "3", "--out", f"{t}/data")
            out = train_on_history(t)
            self.assertEqual(out.returncode, 0, out.stderr)
            with open(f"{t}/work/fold-0/model/metadata.json") as f:
                fold_training = json.load(f)["training"]
            # The case under test: this fold's last day holds no fraud, so PR-AUC is undefined.
            self.assertEqual(fold_training["validation_fraud_share"], 0.0)
            self.assertIsNone(fold_training["pr_auc"])
            run(CLI, "evaluate", "--model-dir", f"{t}/model", "--profiles", f"{t}/data/profiles.jsonl",
                "--events", f"{t}/data/events.jsonl", "--labels", f"{t}/data/labels.jsonl")


class TrainOnBadLinesTest(unittest.TestCase):
    """A line the CLI cannot read is named by its line number in DATA, not in a fold's copy."""

    def test_when_a_label_line_is_not_label_v1_should_name_its_line_in_data(self):
        # The CLI's reasons (the field, or where the JSON breaks).
        bad_lines = {
            '{"event_id": "e-1", "fraud": "yes"}': "field `fraud`",
            '{"fraud": true}': "missing field `event_id`",
            '{"event_id": "e-1", "fraud": true, "fraud_type": 3}': "field `fraud_type`",
            '{"event_id": "e-1", fraud: true}': "key must be a string",
        }
        with tempfile.TemporaryDirectory() as t:
            run(CLI, "generate", "--subscribers", "20", "--days", "2", "--seed", "3", "--out", f"{t}/data")
            labels = f"{t}/data/labels.jsonl"
            with open(labels) as f:
                good = f.readlines()
            for line, reason in bad_lines.items():
                with self.subTest(line=line):
                    # Line 12, after lines of both folds and a blank one (blank lines are skipped,
                    # and counted).
                    with open(labels, "w") as f:
                        f.writelines(good[:10] + ["\n", line + "\n"] + good[10:])
                    out = train_on_history(t)
                    self.assertNotEqual(out.returncode, 0)
                    self.assertRegex(out.stderr, r"fold-\d/labels.jsonl: line 12: ")
                    self.assertIn(reason, out.stderr)
                    self.assertIn("stopped: roamguard export-features exited with status 1", out.stderr)
                    self.assertNotIn("Traceback", out.stderr)

    def test_when_a_profile_line_is_invalid_should_name_its_line_in_data(self):
        with tempfile.TemporaryDirectory() as t:
            run(CLI, "generate", "--subscribers", "20", "--days", "2", "--seed", "3", "--out", f"{t}/data")
            with open(f"{t}/data/profiles.jsonl") as f:
                profiles = f.read().splitlines()
            # Both folds hold profiles before line 12, so its line number is the fold file's only if
            # the other fold's lines are kept as blank ones.
            profiles[11] = '{"imsi": 12}'
            with open(f"{t}/data/profiles.jsonl", "w") as f:
                f.write("\n".join(profiles) + "\n")
            out = train_on_history(t)
        self.assertNotEqual(out.returncode, 0)
        self.assertRegex(out.stderr, r"fold-\d/profiles.jsonl: profile line 12: ")


class TrainOnExportedFilesTest(unittest.TestCase):
    """DATA as other tools export it: a UTF-8 byte-order mark, CR LF line ends, a byte that is not
    UTF-8. The files are passed on as they are, for the CLI to read as it reads them when scoring."""

    LATIN1_EVENT = b'{"event_id": "caf\xe9", "imsi": "208011234567890"}'

    @staticmethod
    def export_as_another_tool(clean, data, extra_event=None):
        os.makedirs(data)
        for name in ("profiles", "events", "labels"):
            with open(f"{clean}/{name}.jsonl", "rb") as f:
                lines = f.read().splitlines()
            if name == "events" and extra_event:
                lines.insert(10, extra_event)
            with open(f"{data}/{name}.jsonl", "wb") as f:
                f.write(b"\xef\xbb\xbf" + b"".join(line + b"\r\n" for line in lines))

    def test_when_files_have_a_byte_order_mark_cr_lf_and_an_event_not_utf8_should_train_the_same_model(self):
        with tempfile.TemporaryDirectory() as clean, tempfile.TemporaryDirectory() as foreign:
            run(CLI, "generate", "--subscribers", "20", "--days", "2", "--seed", "3", "--out", f"{clean}/data")
            self.export_as_another_tool(f"{clean}/data", f"{foreign}/data", extra_event=self.LATIN1_EVENT)
            out = train_on_history(foreign)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("(1 invalid events skipped", out.stderr)
            # The line not UTF-8 reaches the CLI as DATA holds it (a line without a readable IMSI: fold 0).
            with open(f"{foreign}/work/fold-0/events.jsonl", "rb") as f:
                self.assertIn(self.LATIN1_EVENT + b"\r\n", f.read())
            self.assertEqual(train_on_history(clean).returncode, 0)
            models = []
            for t in (clean, foreign):
                with open(f"{t}/model/metadata.json", encoding="utf-8") as f:
                    meta = json.load(f)
                models.append((meta["model_version"], meta["thresholds"]))
            self.assertEqual(models[0], models[1])

    def test_when_a_label_line_is_not_utf8_should_name_its_line_in_data(self):
        with tempfile.TemporaryDirectory() as t:
            run(CLI, "generate", "--subscribers", "20", "--days", "2", "--seed", "3", "--out", f"{t}/clean")
            self.export_as_another_tool(f"{t}/clean", f"{t}/data")
            with open(f"{t}/data/labels.jsonl", "rb") as f:
                labels = f.read().splitlines(keepends=True)
            labels.insert(11, b'{"event_id": "e-1", "fraud": true, "fraud_type": "t\xe9l\xe9phone"}\r\n')
            with open(f"{t}/data/labels.jsonl", "wb") as f:
                f.writelines(labels)
            out = train_on_history(t)
        self.assertNotEqual(out.returncode, 0)
        self.assertRegex(out.stderr, r"fold-\d/labels.jsonl: line 12: not UTF-8 text \(byte 0xE9\)")
        self.assertNotIn("Traceback", out.stderr)


class CrossFittedThresholdsTest(unittest.TestCase):
    """train_on_data.cross_fitted: the folds' calibrations as one Thresholds v1 document."""

    def test_when_folds_differ_should_take_each_threshold_from_the_strictest_fold(self):
        def fold(version, review, block, flags, events):
            return {"model_version": version, "review": review, "block": block,
                    "escalation": {"earlier_flags": flags, "window_hours": 24},
                    "calibration": {"targets": {"flag_fpr": 0.005, "block_fpr": 0.0005}, "events": events,
                                    "replayed_events": 2 * events, "since": "2026-06-03T00:00:00Z"}}

        def write(t, docs):
            paths = []
            for doc in docs:
                paths.append(f"{t}/{len(os.listdir(t))}.json")
                with open(paths[-1], "w") as f:
                    json.dump(doc, f)
            return paths

        targets = {"flag_fpr": 0.005, "block_fpr": 0.0005}
        with tempfile.TemporaryDirectory() as t:
            warm = write(t, (fold("xgb-a", 0.2, 0.6, 1, 100), fold("xgb-b", 0.1, 0.8, 2, 50)))
            calm = write(t, (fold("xgb-a", 0.05, 0.5, 1, 100), fold("xgb-b", 0.1, 0.7, 1, 50)))
            merged = train_on_data.cross_fitted(warm, calm, "xgb-final", targets, 0.8)
            # A cold start stricter than the live state on one threshold: that one comes from it.
            cold = write(t, (fold("xgb-a", 0.3, 0.5, 1, 100), fold("xgb-b", 0.1, 0.9, 1, 50)))
            strict = train_on_data.cross_fitted(warm, cold, "xgb-final", targets, 0.8)
        self.assertEqual((merged["model_version"], merged["review"], merged["block"]), ("xgb-final", 0.2, 0.8))
        self.assertEqual(merged["escalation"]["earlier_flags"], 2)  # the fold whose BLOCK it is
        self.assertEqual((strict["review"], strict["block"], strict["escalation"]["earlier_flags"]), (0.3, 0.9, 1))
        c = merged["calibration"]
        self.assertEqual((c["events"], c["replayed_events"], c["since"]), (150, 300, "2026-06-03T00:00:00Z"))
        self.assertEqual([f["model_version"] for f in c["folds"]], ["xgb-a", "xgb-b"])
        self.assertEqual([f["review"] for f in c["cold_starts"]], [0.05, 0.1])
        self.assertEqual((c["targets"], c["margin"]), ({"flag_fpr": 0.005, "block_fpr": 0.0005}, 0.8))


class ParseTimeTest(unittest.TestCase):
    """train_on_data.parse_time reads the event times the CLI reads (RFC 3339, as chrono parses it)."""

    def test_when_a_time_is_rfc3339_in_any_spelling_should_read_it_as_the_cli_does(self):
        utc = train_on_data.dt.timezone.utc
        expected = train_on_data.dt.datetime(2026, 6, 1, 0, 0, 4, 123456, tzinfo=utc)
        for text in ("2026-06-01T00:00:04.123456789Z", "2026-06-01t00:00:04.123456z",
                     "2026-06-01 02:00:04.123456+02:00", "2026-05-31T23:30:04.1234567-00:30"):
            with self.subTest(text=text):
                self.assertEqual(train_on_data.parse_time(text), expected)
        self.assertEqual(train_on_data.parse_time("2026-06-01T00:00:04Z"), expected.replace(microsecond=0))
        for text in ("2026-06-01T00:00:04", "2026-06-01", "yesterday", 1780272004):
            with self.subTest(text=text), self.assertRaises(ValueError):
                train_on_data.parse_time(text)


class DefaultSplitTest(unittest.TestCase):
    """train_on_data.default_split: the last 24 hours validate, from a whole hour."""

    def test_when_no_split_is_given_should_validate_on_the_last_24_hours_from_a_whole_hour(self):
        def split(first, last):
            return train_on_data.rfc3339(train_on_data.default_split(train_on_data.parse_time(first),
                                                                     train_on_data.parse_time(last)))

        # Whole UTC days: the last one.
        self.assertEqual(split("2026-06-01T00:00:01Z", "2026-06-02T23:59:52Z"), "2026-06-02T00:00:00Z")
        # A few events past midnight do not leave half a minute to validate on.
        self.assertEqual(split("2026-06-01T00:00:01Z", "2026-06-03T00:00:30Z"), "2026-06-02T01:00:00Z")
        self.assertEqual(split("2026-06-01T09:00:00Z", "2026-06-03T09:00:00Z"), "2026-06-02T09:00:00Z")
        self.assertEqual(split("2026-06-01T09:00:00+02:00", "2026-06-03T07:30:00Z"), "2026-06-02T08:00:00Z")
        with self.assertRaises(SystemExit) as e:
            split("2026-06-01T00:00:01Z", "2026-06-01T23:59:00Z")
        self.assertIn("single day", str(e.exception))


class TrainOnDataSageMakerTest(unittest.TestCase):
    """train_on_data.py as a SageMaker script-mode entry point: the `data` channel and the model
    directory from SM_* variables alone, the CLI found beside the script (a source_dir holding
    training/ and a roamguard build), hyperparameters as SageMaker passes them."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        t = cls.tmp.name
        source = f"{t}/source"  # what SageMaker unpacks from source_dir
        os.makedirs(source)
        for name in ("train_on_data.py", "train.py", "set_thresholds.py"):
            shutil.copy(os.path.join(HERE, name), source)
        shutil.copy(os.path.abspath(CLI), os.path.join(source, "roamguard"))
        cls.data, cls.model_dir = f"{t}/input/data/data", f"{t}/model"
        run(CLI, "generate", "--subscribers", "150", "--days", "2", "--seed", "14", "--fraud-share", "0.15",
            "--out", cls.data)
        env = {k: v for k, v in os.environ.items() if k not in ("ROAMGUARD", "ROAMGUARD_CLI")}
        env |= {"SM_CHANNEL_DATA": cls.data, "SM_MODEL_DIR": cls.model_dir}
        # cwd: not the checkout, so target/release/roamguard cannot be what is found.
        cls.out = subprocess.run([sys.executable, os.path.join(source, "train_on_data.py"), "--num_round", "7",
                                  "--parity-rows", "200"], env=env, cwd=t, check=True, capture_output=True,
                                 text=True).stdout

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_when_run_by_sagemaker_should_write_a_complete_calibrated_model_directory(self):
        for name in ("model.json", "metadata.json", "parity.csv", "report.md"):
            self.assertTrue(os.path.getsize(os.path.join(self.model_dir, name)) > 0, name)
        self.assertIn(f"+ {self.tmp.name}/source/roamguard calibrate", self.out)
        with open(os.path.join(self.model_dir, "metadata.json")) as f:
            meta = json.load(f)
        self.assertEqual(meta["training"]["params"]["num_round"], 7)  # the hyperparameter reached train.py
        # No models/ in the source_dir: trained from the history alone.
        self.assertNotIn("base_model", meta["training"])
        self.assertEqual(trees(os.path.join(self.model_dir, "model.json")), 7)
        self.assertLessEqual(meta["thresholds"]["review"], meta["thresholds"]["block"])
        calibration = meta["calibration"]
        self.assertIn(f"{self.data}, events from 2026-06-02T00:00:00Z", calibration["calibrated_on"])
        with open(f"{self.data}/events.jsonl") as f:
            times = [json.loads(line)["event_time"] for line in f]
        # Calibrated on the last day, with the whole history replayed.
        self.assertEqual(calibration["since"], "2026-06-02T00:00:00Z")
        self.assertEqual(calibration["events"], sum(t >= "2026-06-02" for t in times))
        self.assertEqual(calibration["replayed_events"], len(times))
        with open(os.path.join(self.model_dir, "report.md")) as f:
            self.assertIn("--since 2026-06-02T00:00:00Z", f.read())


if __name__ == "__main__":
    unittest.main()
