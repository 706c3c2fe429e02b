#!/usr/bin/env python3
"""Writes the committed seed corpus fuzz/seeds/<target>/ from the test fixtures and a small
generated data set (`roamguard generate`). Re-run after a contract change:
    ROAMGUARD=target/release/roamguard python3 fuzz/make_seeds.py
"""
import base64
import hashlib
import json
import os
import pathlib
import subprocess
import tempfile

root = pathlib.Path(__file__).resolve().parent.parent
seeds = root / "fuzz" / "seeds"
roamguard = os.environ.get("ROAMGUARD", str(root / "target" / "release" / "roamguard"))


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = seeds / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


with tempfile.TemporaryDirectory() as tmp:
    subprocess.run([roamguard, "generate", "--subscribers", "40", "--days", "2", "--seed", "11", "--out", tmp],
                   check=True, stderr=subprocess.DEVNULL)
    lines = pathlib.Path(tmp, "events.jsonl").read_text().splitlines()
    labels = [json.loads(l) for l in pathlib.Path(tmp, "labels.jsonl").read_text().splitlines()]

# A few events of every type and fraud kind.
picked, seen = [], {}
for line, label in zip(lines, labels):
    e = json.loads(line)
    key = (e["event_type"], label.get("fraud_type") or "normal")
    if seen.get(key, 0) < 2:
        seen[key] = seen.get(key, 0) + 1
        picked.append(line)

fixtures = root / "functions"
kinesis = json.loads((fixtures / "score-stream/tests/fixtures/kinesis-mixed-batch.json").read_text())
fixture_records = [base64.b64decode(r["kinesis"]["data"]) for r in kinesis["Records"]]
api_fixtures = sorted((fixtures / "score-api/tests/fixtures").glob("*.json"))
invalid = [b"", b"{}", b"[1,2]", b"not json", b'{"event_id":', '{"event_id":"x","event_time":"0000-01-01T00:00:00+23:59"}'.encode()]

for data in picked + fixture_records + invalid:
    put("event_decoder", data)

# Batches: runs of one subscriber's events (live state builds up), and a mixed batch.
by_imsi = {}
for line in lines:
    by_imsi.setdefault(json.loads(line)["imsi"], []).append(line)
for events in list(by_imsi.values())[:6]:
    put("kinesis_records", "\n".join(events[:20]))
put("kinesis_records", b"\n".join([picked[0].encode(), b"{", picked[1].encode(), b"\xff\xfe", picked[0].encode()]))
put("kinesis_records", b"\n".join(fixture_records))

put("kinesis_payload", (fixtures / "score-stream/tests/fixtures/kinesis-mixed-batch.json").read_bytes())
for events in list(by_imsi.values())[:3]:
    records = [dict(kinesis["Records"][0], kinesis=dict(kinesis["Records"][0]["kinesis"],
               data=base64.b64encode(l.encode()).decode(), sequenceNumber=str(i)))
               for i, l in enumerate(events[:10])]
    put("kinesis_payload", json.dumps({"Records": records}))

for name in ["msk.json", "self-managed.json"]:
    put("kafka_payload", (fixtures / "score-kafka/tests/fixtures" / name).read_bytes())
kafka = json.loads((fixtures / "score-kafka/tests/fixtures/msk.json").read_text())
template = kafka["records"]["roaming-events-0"][0]
for events in list(by_imsi.values())[:3]:
    records = [dict(template, offset=i, value=base64.b64encode(l.encode()).decode()) for i, l in enumerate(events[:10])]
    put("kafka_payload", json.dumps(dict(kafka, records={"roaming-events-0": records})))

first = json.loads(picked[0])
for body in picked[:6]:
    e = json.loads(body)
    put("api_request", "\0".join([
        f"POST\n/v1/score\n\napplication/json\n{body}",
        f"GET\n/v1/verdicts/{e['event_id']}\n\n\n",
        f"GET\n/v1/subscribers/{e['imsi']}/verdicts\nlimit=1&decision=ALLOW\n\n",
    ]))
put("api_request", "GET\n/v1/health\n\n\n")
put("api_request", f"POST\n/v1/score\n\napplication/json; charset=utf-8\n{json.dumps(dict(first, imsi='12'))}")
put("api_request", "DELETE\n/v1/score\n\n\n")
put("api_request", "GET\n/v1/subscribers/208011234567890/verdicts\nsince=2026-06-01T00:00:00Z&until=2026-06-02T00:00:00Z&next=MjAyNi0wNi0wMVQwMDowMDowMFp8ZS0x\n\n")

for path in api_fixtures:
    put("apigw_event", path.read_bytes())
