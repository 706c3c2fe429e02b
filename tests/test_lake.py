"""The verdict lake's named Athena queries run on verdicts as the lake stores them, and give the
figures the verdicts hold. `roamguard score` (rules and a challenger on) writes the verdicts;
pyarrow stands in for Firehose's Parquet conversion, typed by the Glue table's columns and
partitioned as its dynamic partitioning does; DuckDB stands in for Athena, running each named
query as sqlglot translates it from Trino SQL. Neither is Athena: this checks the queries'
logic, that real verdicts convert to the Glue table's columns and read back unchanged (a
misnamed struct field would read back null), and the partition keys' types, not Athena's
dialect (tests/test_infra.py parses the queries as Trino SQL)."""

import collections
import datetime
import json
import os
import subprocess
import sys
import tempfile
import unittest

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.environ.get("ROAMGUARD", os.path.join(ROOT, "target", "debug", "roamguard"))
sys.path.insert(0, os.path.join(ROOT, "infra"))

import stack  # noqa: E402  (infra/stack.py)

HIVE_SCALARS = {"string": pa.string(), "double": pa.float64(), "boolean": pa.bool_(), "bigint": pa.int64(), "int": pa.int32()}


def arrow_type(hive):
    """The Arrow type of a Glue (Hive) column type, as Firehose's Parquet conversion writes it."""
    hive = hive.strip()
    if hive in HIVE_SCALARS:
        return HIVE_SCALARS[hive]
    if hive.startswith("array<") and hive.endswith(">"):
        return pa.list_(arrow_type(hive[len("array<"):-1]))
    if hive.startswith("struct<") and hive.endswith(">"):
        fields = (f.split(":", 1) for f in top_level_fields(hive[len("struct<"):-1]))
        return pa.struct([(name, arrow_type(sub)) for name, sub in fields])
    raise ValueError(f"no Arrow type for the Glue type {hive!r}")


def top_level_fields(body):
    fields, depth, start = [], 0, 0
    for i, c in enumerate(body):
        depth += (c == "<") - (c == ">")
        if c == "," and depth == 0:
            fields.append(body[start:i])
            start = i + 1
    return fields + [body[start:]]


def duckdb_type(hive):
    """The DuckDB type of a scalar Glue column type."""
    return hive.upper().replace("STRING", "VARCHAR")


def as_dicts(cursor):
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def utc(rfc3339):
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))


class LakeQueriesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        resources = stack.transform()["Resources"]
        cls.queries = {r["Properties"]["Name"]: r["Properties"]["QueryString"]
                       for r in resources.values() if r["Type"] == "AWS::Athena::NamedQuery"}
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.run_cli("generate", "--subscribers", "150", "--days", "2", "--seed", "4", "--out", d)
        cls.add_late_events(d)
        cls.write_challenger(f"{d}/challenger")
        with open(f"{d}/rules.yaml", "w") as f:
            f.write("rules:\n"
                    "  - id: big-data\n    when: event.event_type == 'data' && event.data_bytes > 200000000\n    then: REVIEW\n"
                    "  - id: any-data\n    when: event.event_type == 'data'\n    then: ALLOW\n")
        cls.run_cli("score", "--profiles", f"{d}/profiles.jsonl", "--events", f"{d}/events.jsonl",
                    "--rules", f"{d}/rules.yaml", "--challenger-model-dir", f"{d}/challenger",
                    "--out", f"{d}/verdicts.jsonl", "--dead-letter", f"{d}/dlq.jsonl")
        cls.verdicts = jsonl(f"{d}/verdicts.jsonl")
        cls.labels = jsonl(f"{d}/labels.jsonl")
        cls.db = duckdb.connect()
        cls.deliver_to_lake(resources, f"{d}/lake")

    @classmethod
    def tearDownClass(cls):
        cls.db.close()
        cls.tmp.cleanup()

    @staticmethod
    def run_cli(*args):
        subprocess.run([CLI, *args], check=True, capture_output=True)

    @classmethod
    def add_late_events(cls, d):
        """Three more data sessions of one subscriber, late on the world's last day: two in the
        same second, the later with milliseconds, and one given in UTC+02:00 whose local date is
        the next day."""
        events = jsonl(f"{d}/events.jsonl")
        data = next(e for e in events if e["event_type"] == "data")
        cls.late_imsi = data["imsi"]
        late = [("late-whole", "2026-06-02T23:10:05Z"), ("late-millis", "2026-06-02T23:10:05.600Z"),
                ("late-offset", "2026-06-03T01:20:00+02:00")]
        with open(f"{d}/events.jsonl", "a", encoding="utf-8") as f:
            for event_id, at in late:
                f.write(json.dumps(dict(data, event_id=event_id, event_time=at)) + "\n")

    @staticmethod
    def write_challenger(out):
        """The shipped trees from a higher base score (every margin shifted up) and with lower
        thresholds: a challenger whose scores and decisions differ from the model's."""
        os.makedirs(out)
        with open(os.path.join(ROOT, "models", "model.json")) as f:
            model = json.load(f)
        model["learner"]["learner_model_param"]["base_score"] = "[1E-1]"
        with open(f"{out}/model.json", "w") as f:
            json.dump(model, f)
        with open(os.path.join(ROOT, "models", "metadata.json")) as f:
            metadata = json.load(f)
        metadata["model_version"] += "-challenger"
        metadata["thresholds"] = {"review": metadata["thresholds"]["review"] / 2, "block": metadata["thresholds"]["block"]}
        with open(f"{out}/metadata.json", "w") as f:
            json.dump(metadata, f)

    @classmethod
    def deliver_to_lake(cls, resources, lake):
        """Verdicts as Firehose delivers them: Parquet typed by the Glue table, under the
        partitions its MetadataExtractionQuery ({day: .event_time[0:10], decision: .decision})
        names; the labels (Label v1 lines, here the generator's) read with the labels table's
        types."""
        verdicts = resources["VerdictsLakeTable"]["Properties"]["TableInput"]
        schema = pa.schema([(c["Name"], arrow_type(c["Type"])) for c in verdicts["StorageDescriptor"]["Columns"]])
        partitions = collections.defaultdict(list)
        for v in cls.verdicts:
            partitions[(v["event_time"][0:10], v["decision"])].append(v)
        for (day, decision), rows in partitions.items():
            folder = f"{lake}/verdicts/day={day}/verdict_decision={decision}"
            os.makedirs(folder)
            pq.write_table(pa.Table.from_pylist(rows, schema=schema), f"{folder}/part-0.parquet", compression="snappy")
        keys = {k["Name"]: duckdb_type(k["Type"]) for k in verdicts["PartitionKeys"]}
        cls.db.execute(f"CREATE VIEW verdicts AS SELECT * FROM read_parquet('{lake}/verdicts/*/*/*.parquet', "
                       f"hive_partitioning = true, hive_types = {keys})")
        labels = resources["LabelsLakeTable"]["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
        types = {c["Name"]: duckdb_type(c["Type"]) for c in labels}
        cls.db.execute(f"CREATE VIEW labels AS SELECT * FROM read_json('{cls.tmp.name}/labels.jsonl', columns = {types})")

    def run_query(self, name, today="2026-06-03", imsi=None):
        """A named query as Athena would run it on `today`, the execution parameter bound to imsi."""
        def bind(node):
            if isinstance(node, exp.CurrentDate):
                return exp.cast(exp.Literal.string(today), "date")
            if isinstance(node, exp.Placeholder):
                return exp.Literal.string(imsi)
            return node
        tree = sqlglot.parse_one(self.queries[name], read="trino").transform(bind)
        return as_dicts(self.db.execute(tree.sql(dialect="duckdb")))

    def test_when_verdicts_are_delivered_should_read_back_unchanged_under_their_utc_day(self):
        rows = as_dicts(self.db.execute("SELECT * EXCLUDE (day, verdict_decision), day, verdict_decision FROM verdicts"))
        stored = {row["event_id"]: row for row in rows}
        self.assertEqual((len(rows), len(stored)), (len(self.verdicts), len(self.verdicts)), "each verdict once")
        for v in self.verdicts:
            row = stored[v["event_id"]]
            self.assertEqual({k: row[k] for k in v}, v, "every field of the verdict reads back as written")
            self.assertEqual([k for k in row if k not in v and row[k] is not None], ["day", "verdict_decision"], v)
            self.assertEqual((row["day"], row["verdict_decision"]), (v["event_time"][0:10], v["decision"]))
        self.assertEqual(stored["late-offset"]["day"], "2026-06-02", "01:20 at UTC+02:00 is the UTC day before")
        self.assertTrue(any(v.get("rules_matched") for v in self.verdicts) and all(v.get("challenger") for v in self.verdicts))

    def test_when_flagged_by_day_runs_should_count_each_days_flags_per_model_and_those_rules_decided(self):
        expected = collections.Counter()
        by_rule = collections.Counter()
        for v in self.verdicts:
            if v["decision"] != "ALLOW":
                key = (v["event_time"][0:10], v["decision"], v["model_version"])
                expected[key] += 1
                by_rule[key] += v["decided_by"] != "model"
        rows = self.run_query("flagged-by-day")
        self.assertEqual({(r["day"], r["verdict_decision"], r["model_version"]): (r["verdicts"], r["decided_by_rule"]) for r in rows},
                         {k: (n, by_rule[k]) for k, n in expected.items()})
        self.assertTrue(any(r["decided_by_rule"] for r in rows), "the rule decided some flags")
        self.assertEqual([r["day"] for r in rows], sorted((r["day"] for r in rows), reverse=True))
        self.assertEqual(self.run_query("flagged-by-day", today="2026-07-15"), [], "days older than 30 are left out")

    def test_when_subscriber_history_runs_should_list_the_subscribers_verdicts_newest_first(self):
        rows = self.run_query("subscriber-history", imsi=self.late_imsi)
        own = sorted((v for v in self.verdicts if v["imsi"] == self.late_imsi), key=lambda v: utc(v["event_time"]), reverse=True)
        self.assertEqual([(r["event_time"], r["decision"]) for r in rows], [(v["event_time"], v["decision"]) for v in own])
        by_time = {v["event_time"]: v["event_id"] for v in own}
        late = [by_time[r["event_time"]] for r in rows if by_time[r["event_time"]].startswith("late-")]
        self.assertEqual(late, ["late-offset", "late-millis", "late-whole"], "newest first, to the millisecond")

    def test_when_rule_hits_runs_should_count_per_rule_its_matches_decisions_and_subscribers(self):
        matched, decided, subscribers = collections.Counter(), collections.Counter(), collections.defaultdict(set)
        for v in self.verdicts:
            for rule in v.get("rules_matched", []):
                matched[rule] += 1
                decided[rule] += v["decided_by"] == f"rule:{rule}"
                subscribers[rule].add(v["imsi"])
        rows = self.run_query("rule-hits")
        self.assertEqual({r["rule"]: (r["matched"], r["decided"], r["subscribers"]) for r in rows},
                         {rule: (n, decided[rule], len(subscribers[rule])) for rule, n in matched.items()})
        self.assertEqual(set(matched), {"big-data", "any-data"})
        self.assertLess(decided["any-data"], matched["any-data"], "big-data decides first where both match")

    def test_when_model_vs_challenger_runs_should_cross_both_decisions_with_the_mean_score_gap(self):
        groups = collections.defaultdict(list)
        for v in self.verdicts:
            c = v["challenger"]
            groups[(v["model_version"], c["model_version"], v["decision"], c["decision"])].append(c["score"] - v["score"])
        rows = self.run_query("model-vs-challenger")
        got = {(r["model_version"], r["challenger_version"], r["decision"], r["challenger_decision"]): (r["verdicts"], r["mean_score_gap"])
               for r in rows}
        self.assertEqual(set(got), set(groups))
        for key, gaps in groups.items():
            self.assertEqual(got[key][0], len(gaps), key)
            self.assertAlmostEqual(got[key][1], sum(gaps) / len(gaps), places=9, msg=key)
        self.assertTrue(any(r["decision"] != r["challenger_decision"] for r in rows), "the challenger disagrees somewhere")
        self.assertTrue(all(r["mean_score_gap"] > 0 for r in rows), "its scores are higher on every event")

    def test_when_agreement_with_labels_runs_should_cross_decisions_with_the_analysts_labels(self):
        fraud = {label["event_id"]: label["fraud"] for label in self.labels}
        expected = collections.Counter((v["model_version"], v["decision"], fraud[v["event_id"]])
                                       for v in self.verdicts if v["event_id"] in fraud)
        rows = self.run_query("agreement-with-labels")
        self.assertEqual({(r["model_version"], r["decision"], r["fraud"]): r["verdicts"] for r in rows}, dict(expected))
        self.assertEqual({r["fraud"] for r in rows}, {True, False})


if __name__ == "__main__":
    unittest.main()
