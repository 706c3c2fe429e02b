"""infra/openapi.yaml is a valid OpenAPI 3.1 document, and `roamguard serve` conforms to it:
schemathesis fuzzes every operation from the document (positive and negative cases, bounded and
seeded) and checks there are no server errors and that every status, content type, header and
body is the documented one."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import yaml
from openapi_spec_validator import validate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.environ.get("ROAMGUARD", os.path.join(ROOT, "target", "debug", "roamguard"))
SPEC = os.path.join(ROOT, "infra", "openapi.yaml")
SCHEMATHESIS = os.path.join(os.path.dirname(sys.executable), "schemathesis")
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])


def start_server(*extra):
    """Starts `roamguard serve --port 0` and returns (process, base URL) once it listens."""
    proc = subprocess.Popen([CLI, "serve", "--port", "0", *extra], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if m:
            # Keep draining the per-request log lines so the server never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, m.group(1)
    proc.kill()
    raise RuntimeError("roamguard serve did not start")


class OpenApiTest(unittest.TestCase):
    def test_when_spec_is_loaded_should_be_valid_openapi_3_1_with_lambda_integrations(self):
        with open(SPEC) as f:
            spec = yaml.safe_load(f)
        validate(spec)
        self.assertTrue(spec["openapi"].startswith("3.1"))
        for path, item in spec["paths"].items():
            for method, op in item.items():
                integration = op["x-amazon-apigateway-integration"]
                self.assertEqual(integration["type"], "aws_proxy", f"{method} {path}")
                self.assertIn("${ScoreApiFunction.Arn}", integration["uri"]["Fn::Sub"])
                for status, response in op["responses"].items():
                    if status.startswith(("4", "5")):
                        ref = response["$ref"].rsplit("/", 1)[-1]
                        content = spec["components"]["responses"][ref]["content"]
                        self.assertEqual(list(content), ["application/problem+json"], f"{method} {path} {status}")

    def test_when_fuzzed_from_the_spec_should_have_no_server_errors_and_conform(self):
        proc, url = start_server()
        report = tempfile.mkdtemp(prefix="schemathesis-")
        try:
            # Seed a verdict so the read operations also see 200s.
            event = (b'{"event_id":"st-1","event_time":"2026-06-01T12:00:00Z","imsi":"208011234567890",'
                     b'"event_type":"data","visited_country":"ES","data_bytes":1000}')
            req = urllib.request.Request(f"{url}/v1/score", data=event, method="POST",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                self.assertEqual(r.status, 200)
            # And a label on it, so its verdict is read back with one.
            label = b'{"fraud":true,"fraud_type":"irsf","note":"seeded","analyst":"schemathesis"}'
            req = urllib.request.Request(f"{url}/v1/verdicts/st-1/label", data=label, method="POST",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                self.assertEqual(r.status, 200)
                self.assertEqual(json.loads(r.read())["event_id"], "st-1")
            with urllib.request.urlopen(f"{url}/v1/verdicts/st-1", timeout=30) as r:
                self.assertEqual(json.loads(r.read())["label"]["fraud_type"], "irsf")
            result = subprocess.run(
                [SCHEMATHESIS, "run", SPEC, "--url", url, "--checks", CHECKS,
                 "--max-examples", "100", "--seed", "20260601", "--workers", "1",
                 "--phases", "examples,coverage,fuzzing", "--request-timeout", "30",
                 "--report", "junit", "--report-dir", report],
                cwd=report, capture_output=True, text=True, timeout=600,
                env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false", "NO_COLOR": "1"},
            )
            self.assertEqual(result.returncode, 0, result.stdout[-6000:] + result.stderr[-2000:])
            summary = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
            self.assertTrue(summary and int(summary.group(1)) >= 100, result.stdout[-3000:])
            self.assertEqual(summary.group(1), summary.group(2), result.stdout[-3000:])
            if os.environ.get("VERBOSE_SCHEMATHESIS"):
                print(result.stdout)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            proc.stderr.close()
            shutil.rmtree(report, ignore_errors=True)
        self.assertEqual(proc.returncode, 0, "serve shuts down cleanly on SIGTERM")


if __name__ == "__main__":
    unittest.main()
