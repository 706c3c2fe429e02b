"""The analysts' console end to end in headless Chromium (Debian's chromium + chromedriver,
driven by selenium) against `roamguard serve` on scored generated traffic: the queue loads and
filters, a verdict opens with its reasons in words, a label is given and the API returns it, the
subscriber timeline and usage chart render, the overview draws its charts; every control has a
label and the label buttons work from the keyboard. Screenshots of each view go to
$CONSOLE_SCREENSHOTS (default out/console/); `make screenshots` writes the ones in docs/."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, os.environ.get("ROAMGUARD", "target/debug/roamguard"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
SHOTS = os.environ.get("CONSOLE_SCREENSHOTS", os.path.join(ROOT, "out", "console"))
# Waits are for the page's own requests to 127.0.0.1, not a limit on the system under test.
WAIT_S = 60

RULES = """\
lists:
  irsf_ranges: ["88216", "88213", "88239"]
rules:
  - id: irsf-range
    when: has(event.called_number) && lists.irsf_ranges.exists(p, event.called_number.startsWith(p))
    then: BLOCK
    description: Called an IRSF hot range
"""


def run(*args):
    subprocess.run([CLI, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class ConsoleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="roamguard-console-")
        d = cls.dir
        rules = os.path.join(d, "rules.yaml")
        with open(rules, "w") as f:
            f.write(RULES)
        run("generate", "--subscribers", "80", "--days", "2", "--seed", "4", "--out", d)
        run("score", "--profiles", f"{d}/profiles.jsonl", "--events", f"{d}/events.jsonl", "--db", f"{d}/verdicts.db",
            "--dead-letter", f"{d}/dead.jsonl", "--rules", rules)
        cls.server = subprocess.Popen(
            [CLI, "serve", "--port", "0", "--db", f"{d}/verdicts.db", "--profiles", f"{d}/profiles.jsonl", "--rules", rules,
             "--history", f"{d}/events.jsonl"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in cls.server.stderr:
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if m:
                cls.base = m.group(1)
                break
        else:
            raise RuntimeError("roamguard serve did not start")
        # Keep draining the server's log so it never blocks on a full pipe.
        import threading
        threading.Thread(target=lambda: [None for _ in cls.server.stderr], daemon=True).start()

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        cls.profile = tempfile.mkdtemp(prefix="roamguard-chromium-")
        for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1280,1000", f"--user-data-dir={cls.profile}"]:
            options.add_argument(flag)
        cls.browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        os.makedirs(SHOTS, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()
        cls.server.terminate()
        cls.server.wait()
        shutil.rmtree(cls.dir, ignore_errors=True)
        shutil.rmtree(cls.profile, ignore_errors=True)

    def open(self, fragment):
        self.browser.get(f"{self.base}/{fragment}")

    def wait(self, condition):
        return WebDriverWait(self.browser, WAIT_S).until(condition)

    def wait_css(self, css):
        return self.wait(EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def wait_text(self, css, text):
        self.wait(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))

    def api(self, path):
        with urllib.request.urlopen(f"{self.base}{path}") as r:
            return json.load(r)

    def shot(self, name):
        self.browser.save_screenshot(os.path.join(SHOTS, f"{name}.png"))

    def queue_rows(self):
        self.wait_text("main .status", "verdicts shown")
        return self.browser.find_elements(By.CSS_SELECTOR, "main tbody tr")

    def test_queue_lists_flagged_verdicts_newest_first_with_counts_and_filters(self):
        self.open("#/queue")
        rows = self.queue_rows()
        cases = self.api("/v1/cases?limit=50")["cases"]
        self.assertEqual(len(rows), len(cases))
        self.assertEqual([r.find_elements(By.TAG_NAME, "td")[1].text for r in rows], [c["decision"] for c in cases])
        self.assertEqual(rows[0].find_elements(By.TAG_NAME, "td")[3].text, cases[0]["explanations"][0])
        self.wait_css(".counts .count")
        counts = self.api("/v1/overview")["by_decision"]
        self.assertIn(str(counts["BLOCK"]), self.browser.find_element(By.CSS_SELECTOR, ".counts").text)
        self.shot("queue")

        Select(self.browser.find_element(By.ID, "f-decision")).select_by_value("REVIEW")
        self.browser.find_element(By.CSS_SELECTOR, "form[aria-label='Filter the queue'] button").click()
        self.wait(lambda b: "decision=REVIEW" in b.current_url)
        rows = self.queue_rows()
        self.assertTrue(rows)
        self.assertEqual({r.find_elements(By.TAG_NAME, "td")[1].text for r in rows}, {"REVIEW"})

    def test_a_verdict_opens_with_its_reasons_in_words_and_a_label_is_given_and_returned_by_the_api(self):
        self.open("#/queue?decision=BLOCK")
        self.queue_rows()
        link = self.browser.find_element(By.CSS_SELECTOR, "main tbody tr td a")
        event_id = link.get_attribute("href").rsplit("/", 1)[1]
        link.click()
        self.wait_css("ul.reasons li")
        case = self.api(f"/v1/cases/{event_id}")
        reasons = [li.text for li in self.browser.find_elements(By.CSS_SELECTOR, "section[aria-labelledby='why'] ul.reasons li")]
        self.assertEqual(len(reasons), len(case["reasons"]))
        for text, words in zip(reasons, case["explanations"]):
            self.assertTrue(text.startswith(words), (text, words))
        self.assertIn("BLOCK", self.browser.find_element(By.CSS_SELECTOR, "main dl").text)
        self.shot("verdict")

        Select(self.browser.find_element(By.ID, "fraud-type")).select_by_value("irsf")
        self.browser.find_element(By.ID, "label-note").send_keys("called back a premium range")
        self.browser.find_element(By.ID, "label-analyst").send_keys("ana")
        self.browser.find_element(By.ID, "label-fraud").click()
        self.wait_text("#current-label", "fraud (irsf)")
        stored = self.api(f"/v1/verdicts/{event_id}")["label"]
        self.assertEqual((stored["fraud"], stored["fraud_type"], stored["note"], stored["analyst"]),
                         (True, "irsf", "called back a premium range", "ana"))

        # From the keyboard: focus the "Not fraud" button and press Enter.
        self.browser.find_element(By.ID, "label-legit").send_keys(Keys.ENTER)
        self.wait_text("#current-label", "not fraud")
        self.assertFalse(self.api(f"/v1/verdicts/{event_id}")["label"]["fraud"])

    def test_the_subscriber_view_renders_the_profile_usage_chart_and_timeline(self):
        imsi = self.api("/v1/cases?limit=1")["cases"][0]["imsi"]
        self.open(f"#/subscriber/{imsi}")
        self.wait_css("#timeline-table tbody tr")
        timeline = self.api(f"/v1/subscribers/{imsi}/verdicts?limit=200")["verdicts"]
        rows = self.browser.find_elements(By.CSS_SELECTOR, "#timeline-table tbody tr")
        self.assertEqual(len(rows), len(timeline))
        sub = self.api(f"/v1/subscribers/{imsi}")
        bars = self.browser.find_elements(By.CSS_SELECTOR, "svg.usage-chart")[0].find_elements(By.TAG_NAME, "rect")
        self.assertEqual(len(bars), len(sub["usage_by_hour"]))
        self.assertTrue(sub["usage_by_hour"], "the live state holds the last day's usage")
        self.assertIn(sub["profile"]["home_country"], self.browser.find_element(By.CSS_SELECTOR, "main").text)
        self.shot("subscriber")

    def test_the_overview_draws_decisions_per_hour_the_score_histogram_and_top_reasons(self):
        self.open("#/overview")
        self.wait_css("section[aria-labelledby='top-reasons'] li")
        o = self.api("/v1/overview")
        charts = self.browser.find_elements(By.CSS_SELECTOR, "main svg[role='img']")
        self.assertEqual(len(charts), 2)
        self.assertEqual(len(charts[0].find_elements(By.TAG_NAME, "g")), len(o["by_hour"]))
        first = self.browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby='top-reasons'] li").text
        self.assertTrue(first.startswith(o["top_reasons"][0]["name"]), first)
        self.assertIn(o["top_reasons"][0]["description"], first)
        # The drift of the history the server was started on (--history).
        drift = self.browser.find_elements(By.CSS_SELECTOR, "#drift-table tbody tr")
        self.assertEqual(len(drift), len(o["drift"]["features"]))
        self.assertTrue(drift[0].text.startswith(o["drift"]["features"][0]["name"]))
        self.shot("overview")

    def test_every_control_has_a_label_and_the_views_are_reachable_from_the_keyboard(self):
        for fragment in ["#/queue", f"#/case/{self.api('/v1/cases?limit=1')['cases'][0]['event_id']}", "#/overview"]:
            self.open(fragment)
            self.wait_css("main h2")
            self.wait(lambda b: "Loading" not in b.find_element(By.CSS_SELECTOR, "main").text)
            unlabelled = self.browser.execute_script("""
                return [...document.querySelectorAll('input, select, textarea, button')].filter((el) => {
                  const byFor = el.id && document.querySelector(`label[for="${el.id}"]`);
                  const named = (el.getAttribute('aria-label') || el.textContent || '').trim();
                  return !(byFor || (el.tagName === 'BUTTON' && named) || el.getAttribute('aria-label'));
                }).map((el) => el.outerHTML);""")
            self.assertEqual(unlabelled, [], fragment)
        # Tab from the skip link reaches the navigation links and the subscriber search.
        self.open("#/queue")
        self.queue_rows()
        self.browser.execute_script("document.querySelector('.skip').focus()")
        reached = []
        for _ in range(6):
            self.browser.switch_to.active_element.send_keys(Keys.TAB)
            el = self.browser.switch_to.active_element
            reached.append(el.get_attribute("id") or el.text)
        self.assertIn("Overview", reached)
        self.assertIn("find-imsi", reached)
        # Enter on the Overview link opens it.
        self.browser.find_element(By.CSS_SELECTOR, "nav a[data-view='overview']").send_keys(Keys.ENTER)
        self.wait(lambda b: b.current_url.endswith("#/overview"))
        self.wait_css("section[aria-labelledby='top-reasons']")

if __name__ == "__main__":
    unittest.main()
