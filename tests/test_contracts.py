"""The JSON Schema files in schemas/ describe what the Rust code actually reads and writes:
generated profiles and events, and the verdicts and dead letters `roamguard score` produces,
validate against them; the schema rejects what the Rust decoder rejects."""

import json
import os
import subprocess
import tempfile
import unittest

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.environ.get("ROAMGUARD", os.path.join(ROOT, "target", "debug", "roamguard"))


def schema(name):
    with open(os.path.join(ROOT, "schemas", name)) as f:
        s = json.load(f)
    jsonschema.Draft202012Validator.check_schema(s)
    return jsonschema.Draft202012Validator(s, format_checker=jsonschema.FormatChecker())


def jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class ContractTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        subprocess.run([CLI, "generate", "--subscribers", "150", "--days", "2", "--seed", "4", "--out", d],
                       check=True, capture_output=True)
        with open(os.path.join(d, "events.jsonl"), "a") as f:
            f.write('{"event_id":"bad","event_time":"2026-06-01T00:00:00Z","imsi":"1","event_type":"data",'
                    '"visited_country":"FR","data_bytes":1}\n')
        subprocess.run([CLI, "score", "--profiles", f"{d}/profiles.jsonl", "--events", f"{d}/events.jsonl",
                        "--out", f"{d}/verdicts.jsonl", "--dead-letter", f"{d}/dlq.jsonl"],
                       check=True, capture_output=True)
        history = ["--profiles", f"{d}/profiles.jsonl", "--events", f"{d}/events.jsonl"]
        subprocess.run([CLI, "calibrate", *history, "--labels", f"{d}/labels.jsonl", "--out", f"{d}/thresholds.json"],
                       check=True, capture_output=True)
        subprocess.run([CLI, "score", *history, "--thresholds", f"{d}/thresholds.json", "--mode", "shadow",
                        "--out", f"{d}/shadow.jsonl", "--dead-letter", f"{d}/dlq-shadow.jsonl"],
                       check=True, capture_output=True)
        with open(f"{d}/rules.yaml", "w") as f:
            f.write("lists:\n  everyone: {file: imsis.txt}\nrules:\n"
                    "  - id: data-review\n    when: event.event_type == 'data' && event.imsi in lists.everyone\n"
                    "    then: REVIEW\n  - id: any-data\n    when: event.event_type == 'data'\n    then: ALLOW\n")
        with open(f"{d}/imsis.txt", "w") as f:
            f.write("".join(p["imsi"] + "\n" for p in jsonl(f"{d}/profiles.jsonl")))
        subprocess.run([CLI, "score", *history, "--rules", f"{d}/rules.yaml", "--out", f"{d}/ruled.jsonl",
                        "--dead-letter", f"{d}/dlq-ruled.jsonl"], check=True, capture_output=True)
        cls.dir = d

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def assert_all_valid(self, validator, items):
        self.assertTrue(items)
        for item in items:
            errors = list(validator.iter_errors(item))
            self.assertFalse(errors, f"{item} -> {[e.message for e in errors]}")

    def test_when_generator_writes_profiles_and_events_should_match_schemas(self):
        self.assert_all_valid(schema("subscriber-profile.v1.schema.json"), jsonl(f"{self.dir}/profiles.jsonl"))
        events = jsonl(f"{self.dir}/events.jsonl")[:-1]
        self.assert_all_valid(schema("roaming-event.v1.schema.json"), events)

    def test_when_generator_writes_labels_should_match_label_v1(self):
        labels = jsonl(f"{self.dir}/labels.jsonl")
        self.assert_all_valid(schema("label.v1.schema.json"), labels)
        self.assertTrue(any(label["fraud"] for label in labels))
        self.assertFalse(schema("label.v1.schema.json").is_valid({"event_id": "a", "fraud": "yes"}))

    def test_when_score_writes_verdicts_should_match_schema_and_carry_reasons_when_flagged(self):
        verdicts = jsonl(f"{self.dir}/verdicts.jsonl")
        self.assert_all_valid(schema("verdict.v1.schema.json"), verdicts)
        flagged = [v for v in verdicts if v["decision"] != "ALLOW"]
        self.assertTrue(flagged)
        self.assertTrue(all(1 <= len(v["reasons"]) <= 3 for v in flagged))

    def test_when_calibrate_writes_thresholds_should_match_thresholds_v1(self):
        with open(f"{self.dir}/thresholds.json") as f:
            thresholds = json.load(f)
        v = schema("thresholds.v1.schema.json")
        self.assert_all_valid(v, [thresholds])
        self.assertLessEqual(thresholds["review"], thresholds["block"])
        self.assertFalse(v.is_valid(dict(thresholds, reveiw=0.1)), "unknown fields are refused")

    def test_when_scoring_in_shadow_mode_should_mark_verdicts_not_enforced(self):
        shadow = jsonl(f"{self.dir}/shadow.jsonl")
        self.assert_all_valid(schema("verdict.v1.schema.json"), shadow)
        self.assertTrue(all(v["enforced"] is False for v in shadow))
        self.assertTrue(all(v["enforced"] is True for v in jsonl(f"{self.dir}/verdicts.jsonl")))

    def test_when_rules_decide_should_verdicts_say_so_and_match_the_schema(self):
        ruled = jsonl(f"{self.dir}/ruled.jsonl")
        v = schema("verdict.v1.schema.json")
        self.assert_all_valid(v, ruled)
        data = [x for x in ruled if x["decided_by"] == "rule:data-review"]
        self.assertTrue(data and all(x["decision"] == "REVIEW" and x["rules_matched"] == ["data-review", "any-data"]
                                     and x["rules_version"].startswith("rules-") for x in data))
        self.assertTrue(all(x["decided_by"] == "model" for x in jsonl(f"{self.dir}/verdicts.jsonl")))
        self.assertFalse(v.is_valid(dict(data[0], decided_by="analyst")))

    def test_when_rust_rejects_a_record_should_schema_reject_it_too(self):
        (letter,) = jsonl(f"{self.dir}/dlq.jsonl")
        self.assertEqual(letter["field"], "imsi")
        bad = json.loads(letter["raw"])
        self.assertFalse(schema("roaming-event.v1.schema.json").is_valid(bad))

    def test_when_conditional_fields_are_missing_should_schema_reject(self):
        v = schema("roaming-event.v1.schema.json")
        base = {"event_id": "e", "event_time": "2026-06-01T00:00:00Z", "imsi": "208011234567890",
                "visited_country": "ES"}
        self.assertFalse(v.is_valid(dict(base, event_type="voice_mo", duration_s=5)))  # no called_number
        self.assertFalse(v.is_valid(dict(base, event_type="voice_mt")))  # no duration_s
        self.assertFalse(v.is_valid(dict(base, event_type="data")))  # no data_bytes
        self.assertTrue(v.is_valid(dict(base, event_type="data", data_bytes=0, unknown_field=1)))


if __name__ == "__main__":
    unittest.main()
