#!/usr/bin/env python3
"""Python baseline for issue 12: the per-record `handler(record)` pattern of the AWS Lambda samples.

  .venv/bin/python tests/load/python_baseline.py --profiles P --events E --model-dir models --out V [--limit N]

Per event, what `roamguard score` does: decode + validate (invalid: a dead letter naming the field),
profile and live-state lookup, the 44 features of docs/features.md (the own daily history's blended
baselines and busiest hours included), fold the event into the state and its history, the same
XGBoost model (one row per call), decision by the metadata's thresholds and escalation (a BLOCK needs
earlier flagged scores of the subscriber, kept as the state's score marks), one verdict line.
Not done here (RoamGuard does it): TreeSHAP reasons on REVIEW/BLOCK, so the ratio is conservative.
Prints {"events", "dead_letters", "seconds", "events_per_sec"}: records handled, and wall time from
reading the profiles to closing the output (imports excluded). tests/load/compare_baseline.py
checks the features and decisions against RoamGuard's.
"""
import argparse, ctypes, ctypes.util, json, math, re, time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import xgboost as xgb

ROOT = Path(__file__).resolve().parents[2]
BUCKET, HOUR, DAY = 600, 3600, 86400  # constants of shared/core/src/state.rs and features.rs
SHORT_CALL_S, NIGHT_END_H = 10, 6
MAX_DEVICES, MAX_COUNTRIES, M64 = 16, 64, 2**64 - 1
VOICE_FLOOR, SMS_FLOOR, DATA_FLOOR, MB = 5.0, 2.0, 50.0, 1e6
VOICE_PEAK_FLOOR, DATA_PEAK_FLOOR, PRIOR_DAYS = 5.0, 20.0, 2.0  # features.rs: busiest-hour floors, profile weight
DECAY, MAX_HISTORY_DAYS, MEAN_UNITS = 0.25, 60, 16.0  # state/history.rs DailyHistory
MARK_HORIZON, MAX_FLAGS, MAX_MARKS = 48 * 3600, 4, 8  # state/history.rs ScoreMarks (SCORE_MARK_FLOOR below, as f32)
NAN, I64_MAX = float("nan"), 2**63 - 1
EVENT_TYPES = ("voice_mo", "voice_mt", "sms_mo", "sms_mt", "data")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)\Z")
# Usage counters of a bucket (state.rs UsageCounts, same order), then its sketch of numbers called.
EV, VSECS, VMO, VMT, SHORT, SMO, SMT, BYTES, RISKY, INTL, NIGHT, FWD, SKETCH = range(13)
TYPE_COUNTER = {"voice_mo": VMO, "voice_mt": VMT, "sms_mo": SMO, "sms_mt": SMT}

def f32(x):
    return float(np.float32(x))

SCORE_MARK_FLOOR = f32(0.01)  # an f32 constant in history.rs: 0.0099999998

# --- Reference data, parsed from the Rust table itself: both sides use the same 249 countries,
# calling codes and number ranges, and no copy here can drift.
def load_reference():
    text = (ROOT / "shared/core/src/countries/table.rs").read_text()
    section = lambda name: text[text.index(f"pub static {name}"):].split("\n];", 1)[0]
    pairs = lambda name: re.findall(r'\("(\d+)", cc\("([A-Z]{2})"\)\)', section(name))
    rows = re.findall(r'c\("([A-Z]{2})", "(\d+)", (-?[\d.]+), (-?[\d.]+), ([\d.]+), (-?\d+), (\d)\)', text)
    countries = {m[0]: (f32(m[2]), f32(m[3]), f32(m[4]), int(m[5]), int(m[6])) for m in rows}
    dial = dict(pairs("MAIN_DIAL_CODE_OWNERS"))
    for d, c in [(m[1], m[0]) for m in rows] + pairs("EXTRA_DIAL_PREFIXES"):
        dial.setdefault(d, c)  # the first owner of a prefix keeps it, as in countries::dial_index
    kinds = {"hot": 1.0, "satellite": 2.0, "premium": 3.0}  # called_range_kind codes
    ranges = {p: kinds[k] for k, p in re.findall(r'(hot|satellite|premium)\("(\d+)"', section("DESTINATION_RANGES"))}
    assert len(countries) == 249 and len(ranges) > 50, "unexpected layout of countries/table.rs"
    return countries, dial, ranges

COUNTRIES, DIAL, RANGES = load_reference()  # COUNTRIES: code -> (lat, lon, radius_km, utc_offset_min, risk)
MAX_RANGE = max(map(len, RANGES))

def country_of_number(n):  # longest calling-code prefix, up to 7 digits
    return next((DIAL[n[:k]] for k in range(min(7, len(n)), 0, -1) if n[:k] in DIAL), None)

def range_kind(n):  # longest matching premium / satellite / hot range; 0 when none
    return next((RANGES[n[:k]] for k in range(min(MAX_RANGE, len(n)), 0, -1) if n[:k] in RANGES), 0.0)

# countries.rs computes the distance in f32 with the C library's single-precision functions (what
# f32::sin and friends call on Linux): the same functions here, so travel speeds agree to the bit.
try:
    _LIBM = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    sinf, cosf, asinf = (getattr(_LIBM, f) for f in ("sinf", "cosf", "asinf"))
    for fn in (sinf, cosf, asinf):
        fn.argtypes, fn.restype = [ctypes.c_float], ctypes.c_float
except (OSError, AttributeError):  # no C math library: float64 functions, agreeing to ~1e-6
    sinf, cosf, asinf = (lambda x, f=f: f32(f(x)) for f in (math.sin, math.cos, math.asin))
RADIANS = f32(f32(math.pi) / 180.0)  # f32::to_radians

def min_travel_km(a, b):  # centroid distance less both radii: neighbours are never "impossible"
    if a == b:
        return 0.0
    (la1, lo1, r1, *_), (la2, lo2, r2, *_) = COUNTRIES[a], COUNTRIES[b]
    p1, p2 = f32(la1 * RADIANS), f32(la2 * RADIANS)
    dp, dl = f32(p2 - p1), f32(f32(lo2 - lo1) * RADIANS)
    s1, s2 = sinf(dp / 2.0), sinf(dl / 2.0)  # (halving is exact)
    h = f32(f32(s1 * s1) + f32(f32(f32(cosf(p1) * cosf(p2)) * f32(s2 * s2))))
    km = f32(12742.0 * asinf(min(f32(math.sqrt(h)), 1.0)))  # 2 · 6371 km
    return max(f32(f32(km - r1) - r2), 0.0)

# --- Validation: the RoamingEvent v1 rules of docs/contracts.md, in events.rs's order, so the same
# field is blamed.
class Invalid(Exception):  # args: (field, reason)
    pass

def string(r, field, required=False):
    if (v := r.get(field)) is None and required:
        raise Invalid(field, "is required")
    if v is not None and not isinstance(v, str):
        raise Invalid(field, f"invalid type: expected a string, got {v!r}")
    return v

def digits(v, field, lo, hi):
    if v is not None and not (v.isascii() and v.isdigit() and lo <= len(v) <= hi):
        raise Invalid(field, f"must be {lo}–{hi} digits, got {v!r}")

def e164(v, field):  # a leading + is accepted and dropped
    d = v[1:] if v.startswith("+") else v
    if not (d.isascii() and d.isdigit() and 3 <= len(d) <= 15 and d[0] != "0"):
        raise Invalid(field, f"must be an E.164 number (3–15 digits, no leading 0), got {v!r}")
    return d

def country(v, field):
    if not v.isascii() or v.upper() not in COUNTRIES:
        raise Invalid(field, f"must be an assigned ISO 3166-1 alpha-2 country code, got {v!r}")
    return v.upper()

def count(r, field):  # optional integer ≥ 0 (i64); a JSON true is an int to Python, not to serde
    if (v := r.get(field)) is not None and (type(v) is not int or not 0 <= v <= I64_MAX):
        raise Invalid(field, f"must be an integer ≥ 0, got {v!r}")
    return v

def validate(r):
    """A decoded record -> the event as a dict, or Invalid(field, reason)."""
    if not isinstance(r, dict):
        raise Invalid("", "expected a JSON object with the RoamingEvent v1 fields")
    eid = string(r, "event_id", True)
    if not 1 <= len(eid) <= 128:
        raise Invalid("event_id", f"must be 1–128 characters, got {len(eid)}")
    raw_time = string(r, "event_time", True)
    try:
        if not RFC3339.match(raw_time):
            raise ValueError
        dt = datetime.fromisoformat(raw_time.upper()).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise Invalid("event_time", f"must be an RFC 3339 timestamp such as 2026-05-01T12:00:00Z, got {raw_time!r}")
    digits(imsi := string(r, "imsi", True), "imsi", 6, 15)
    if (msisdn := string(r, "msisdn")) is not None:
        e164(msisdn, "msisdn")
    digits(imei := string(r, "imei"), "imei", 14, 16)
    if (kind := string(r, "event_type", True)) not in EVENT_TYPES:
        raise Invalid("event_type", f"must be one of {', '.join(EVENT_TYPES)}; got {kind!r}")
    visited = country(string(r, "visited_country", True), "visited_country")
    digits(string(r, "visited_network"), "visited_network", 5, 6)
    called = None if (c := string(r, "called_number")) is None else e164(c, "called_number")
    if (mo := kind in ("voice_mo", "sms_mo")) and called is None:
        raise Invalid("called_number", f"is required for {kind}")
    cc = string(r, "called_country")
    cc = country(cc, "called_country") if cc is not None else called and country_of_number(called)
    voice, duration, nbytes = kind.startswith("voice"), count(r, "duration_s"), count(r, "data_bytes")
    if voice and duration is None:
        raise Invalid("duration_s", f"is required for {kind}")
    if kind == "data" and nbytes is None:
        raise Invalid("data_bytes", "is required for data")
    if (fwd := r.get("call_forwarded")) is not None and not isinstance(fwd, bool):
        raise Invalid("call_forwarded", f"invalid type: expected a boolean, got {fwd!r}")
    us = dt.microsecond  # verdicts carry the time in UTC, with sub-seconds only when present
    frac = "" if not us else f".{us // 1000:03d}" if us % 1000 == 0 else f".{us:06d}"
    return {"id": eid, "t": math.floor(dt.timestamp()), "time": dt.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z",
            "imsi": imsi, "imei": imei and imei[:14], "kind": kind, "visited": visited, "fwd": fwd,
            # Destinations count for outgoing calls and SMS only.
            "called": called if mo else None, "called_country": cc if mo else None,
            "bit": sketch_bit(called) if mo else 0,
            "risky": mo and (range_kind(called) > 0 or COUNTRIES.get(cc, (0,) * 5)[4] >= 2),
            "secs": (duration or 0) if voice else 0, "bytes": (nbytes or 0) if kind == "data" else 0}

# --- Live state of one subscriber (state.rs LiveState, the compact one), in dicts.
class State:
    __slots__ = ("last_t", "last_country", "last_device", "recent", "hours", "called_countries",
                 "devices", "visited", "applied", "day", "today", "mean", "days", "marks")

    def __init__(self):
        self.last_t = self.last_country = self.last_device = None
        # Bucket start -> 12 usage counters + a 128-bit sketch of the numbers called: 10-minute
        # buckets for the last hour, hourly ones for the 23 hours before.
        self.recent, self.hours = {}, {}
        self.called_countries = {}  # country -> last seen
        self.devices, self.visited = {}, {}  # device (IMEI[:14]) / country -> [first, last seen]
        self.applied = []  # the last 8 event ids: a redelivered event is not counted twice
        # The own history (history.rs DailyHistory): UTC day number of `today`, that day's usage
        # and the decayed mean of the completed active days (DayUsage, as f32 values: voice secs,
        # SMS, data bytes, outgoing calls, busiest hour's voice secs and data bytes), days in it.
        self.day, self.today, self.mean, self.days = 0, [0.0] * 6, [0.0] * 6, 0
        self.marks = []  # ScoreMarks: (at, score, event fingerprint), highest score first

def stable_hash(text):  # state.rs stable_hash: FNV-1a of the UTF-8 bytes
    z = 0xCBF29CE484222325
    for b in text.encode():
        z = ((z ^ b) * 0x100000001B3) & M64
    return z

def fingerprint(event_id):  # applied.rs fingerprint: the hash's high 32 bits
    return stable_hash(event_id) >> 32

def sketch_bit(number):
    """Distinct::bit: one of 128 bits, chosen by rng::mix64 of the number's FNV-1a hash."""
    z = stable_hash(number)
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return 1 << ((z ^ (z >> 31)) >> 57)

def estimate(sketch):  # linear counting: -m ln(zero bits / m), rounded half away from zero
    zeros = 128 - sketch.bit_count()
    return 621 if zeros == 0 else math.floor(-128 * math.log(zeros / 128) + 0.5)

def recent_from(t):  # first 10-minute bucket of the last hour
    return t - t % BUCKET - HOUR + BUCKET

def day_from(t):  # first hour of the 24 h window
    return t - t % HOUR - DAY + HOUR

def local_hour(e):  # in the visited country's standard time
    return (e["t"] + COUNTRIES[e["visited"]][3] * 60) % DAY / 3600.0

def usage_of(e, home):
    """What one event adds to its bucket (UsageCounts::of); the windows count it too."""
    u = [1, e["secs"], 0, 0, 0, 0, 0, e["bytes"], int(e["risky"]), 0, int(local_hour(e) < NIGHT_END_H),
         int(e["fwd"] is True)]
    if e["kind"] in TYPE_COUNTER:
        u[TYPE_COUNTER[e["kind"]]] = 1
    u[SHORT] = int(e["kind"] == "voice_mo" and e["secs"] < SHORT_CALL_S)
    cc = e["called_country"]
    u[INTL] = int(cc is not None and cc != e["visited"] and cc != home)
    return u

def hour_and_day(s, now, usage, bit):
    """LiveState::hour_and_day plus the sketches: usage over the last hour and the 24 h window
    ending at `now` (LiveState::window: buckets started up to `now`), `usage` and `bit` included."""
    from_1h, from_24h = recent_from(now), day_from(now)
    w1, w24, k1, k24 = usage, usage, bit, bit
    for start, b in s.hours.items():
        if from_24h <= start <= now:
            w24, k24 = [x + y for x, y in zip(w24, b)], k24 | b[SKETCH]
    for start, b in s.recent.items():
        if from_24h <= start <= now:
            w24, k24 = [x + y for x, y in zip(w24, b)], k24 | b[SKETCH]
            if start >= from_1h:
                w1, k1 = [x + y for x, y in zip(w1, b)], k1 | b[SKETCH]
    return w1, w24, k1, k24

NO_USAGE = [0] * 12

# --- The own history (state/history.rs), in f32 as Rust keeps it.
def round_half_away(x):  # f32::round
    return math.copysign(math.floor(abs(x) + 0.5), x)

def closed_mean(s):
    """DailyHistory::close_day: the mean and days once the day in progress is completed."""
    w = max(f32(1.0 / (s.days + 1)), DECAY)  # the first days a plain average, then decayed
    mean = [round_half_away(f32(f32(m + f32(w * f32(x - m))) * MEAN_UNITS)) / MEAN_UNITS
            for m, x in zip(s.mean, s.today)]  # in 1/16 units
    return mean, min(s.days + 1, MAX_HISTORY_DAYS)

def completed_at(s, t):
    """DailyHistory::completed_at: (mean, days) of the days completed by `t`, or None."""
    if s.last_t is not None and t // DAY > s.day:  # the day in progress is over by then
        return closed_mean(s)
    return (s.mean, s.days) if s.days else None

def history_add(s, t, usage, last_hour, first_event):
    """DailyHistory::add: a later day's first event closes the day in progress; a late event of
    an earlier day counts into the day in progress."""
    day = t // DAY
    if first_event:
        s.day = day
    elif day > s.day:
        s.mean, s.days = closed_mean(s)
        s.today, s.day = [0.0] * 6, day
    d = s.today
    d[0] = f32(d[0] + f32(usage[VSECS]))
    d[1] = f32(d[1] + f32(usage[SMO] + usage[SMT]))
    d[2] = f32(d[2] + f32(usage[BYTES]))
    d[3] = f32(d[3] + f32(usage[VMO]))
    d[4] = max(d[4], f32(last_hour[VSECS]))  # the busiest hour so far, at the day's events
    d[5] = max(d[5], f32(last_hour[BYTES]))

def baseline(profile_avg, own, floor):
    """features.rs baseline: own mean of d days blended with the profile's average, floored."""
    if profile_avg is not None and own is not None:
        mean, days = own
        blended = f32(f32(f32(days * mean) + f32(PRIOR_DAYS * profile_avg)) / (days + PRIOR_DAYS))
    elif profile_avg is not None or own is not None:
        blended = profile_avg if own is None else own[0]
    else:
        return NAN
    return max(blended, floor)

# --- Score marks and the decision (state/history.rs ScoreMarks, decision.rs DecisionPolicy).
def mark(s, fp, at, score):
    """ScoreMarks::mark, pruned relative to the marked event's time (LiveState::mark_score)."""
    marks = s.marks
    if score >= SCORE_MARK_FLOOR and math.isfinite(score) and all(m[2] != fp for m in marks):
        marks.append((at, score, fp))
    marks = [m for m in marks if m[0] > at - MARK_HORIZON]
    marks.sort(key=lambda m: (-m[1], -m[0]))  # highest first, the most recent among equals (stable)
    kept = []
    for m in marks:  # a mark that four kept ones beat on score and recency is never needed
        if sum(k[0] >= m[0] for k in kept) < MAX_FLAGS:
            kept.append(m)
    if len(kept) > MAX_MARKS:  # beyond the bound, the most recent
        kept = sorted(sorted(kept, key=lambda m: -m[0])[:MAX_MARKS], key=lambda m: (-m[1], -m[0]))
    s.marks = kept

def decide(score, s, fp, t):
    """DecisionPolicy::decide with the scores of the subscriber's earlier events (ScoreMarks::earlier:
    other events at or before `t` within the escalation window)."""
    if score < META["block"]:
        return "REVIEW" if score >= META["review"] else "ALLOW"
    need, instant, window = META["earlier_flags"], META["instant_block"], META["window_secs"]
    if need == 0 or (instant is not None and score >= instant):
        return "BLOCK"
    flagged = sum(m[2] != fp and t - window < m[0] <= t and m[1] >= META["review"] for m in s.marks)
    return "BLOCK" if flagged >= need else "REVIEW"

def features(e, p, s, usage):
    """features::compute: the 44 features in model column order, from the state before the event."""
    now, kind, cc, imei, called = e["t"], e["kind"], e["called_country"], e["imei"], e["called"]
    home = p and p["home_country"]
    w1, w24, k1, k24 = hour_and_day(s, now, usage, e["bit"])  # windows include the current event
    d1, d24 = estimate(k1), estimate(k24)  # distinct numbers called, estimated as RoamGuard does
    countries_24h = sum(t > now - DAY and c != cc for c, t in s.called_countries.items()) + (cc is not None)
    visited = e["visited"]
    usual = p is not None and (visited == home or visited in p["usual_countries"])
    seen = s.visited.get(visited)
    if s.last_t is not None:
        since = f32(max(now - s.last_t, 0))
        km = min_travel_km(s.last_country, visited)  # a minute of slack: network clocks disagree
        speed = 0.0 if km == 0 else km / f32(f32(since + 60.0) / 3600.0)
    else:
        speed = since = NAN
    known = p is not None and imei in p["known_devices"]
    dev = s.devices.get(imei)
    devices_24h = sum(t > now - DAY and d != imei for d, (_, t) in s.devices.items()) + (imei is not None)
    # Baselines: the profile's averages (f32) blended with the own history's mean, in f32 as
    # features.rs computes them; the busiest-hour denominators missing without a completed day.
    own = completed_at(s, now)
    mean, days = own or (None, 0)
    vb = baseline(p and p["avg_daily_voice_min"], own and (f32(mean[0] / 60.0), days), VOICE_FLOOR)
    sb = baseline(p and p["avg_daily_sms"], own and (mean[1], days), SMS_FLOOR)
    db = baseline(p and p["avg_daily_data_mb"], own and (f32(mean[2] / MB), days), DATA_FLOOR)
    voice_peak = max(f32(mean[4] / 60.0), VOICE_PEAK_FLOOR) if own else NAN
    data_peak = max(f32(mean[5] / MB), DATA_PEAK_FLOOR) if own else NAN
    # Rounded to f32 where features.rs keeps an f32 intermediate, so the ratios agree to the bit.
    voice_1h, voice_24h = f32(f32(w1[VSECS]) / 60.0), f32(f32(w24[VSECS]) / 60.0)
    data_1h, data_24h = f32(f32(w1[BYTES]) / MB), f32(f32(w24[BYTES]) / MB)
    share = lambda part, whole: part / whole if whole else NAN
    flag = lambda b: 1.0 if b else 0.0
    opt = lambda present, v: v if present else NAN  # NaN is XGBoost's "missing"
    return [
        flag(kind == "voice_mo"), flag(kind == "voice_mt"), flag(kind == "sms_mo"), flag(kind == "data"),  # 0-3
        opt(kind.startswith("voice"), float(e["secs"])), opt(kind == "data", f32(e["bytes"]) / MB),  # 4-5
        opt(e["fwd"] is not None, flag(e["fwd"])),  # 6 call_forwarded
        opt(called is not None, called and range_kind(called)),  # 7 called_range_kind
        opt(cc is not None, cc and float(COUNTRIES[cc][4])),  # 8 called_country_risk
        opt(cc is not None, flag(cc != visited and cc != home)),  # 9 called_is_international
        local_hour(e),  # 10
        opt(p is not None, p and flag(p["plan"] == "prepaid")), opt(p is not None, p and float(p["tenure_days"])),
        flag(not usual and seen is None),  # 13 country_is_new
        NAN if usual else (max(now - seen[0], 0) / 3600.0 if seen else 0.0),  # 14 country_first_seen_h
        speed, since,  # 15 travel_speed_kmh, 16 secs_since_last_event
        opt(imei is not None and p is not None, flag(not known)),  # 17 imei_unknown
        opt(imei is not None and not known, dev and max(now - dev[0], 0) / 3600.0 or 0.0),  # 18
        opt(imei is not None and s.last_device is not None, flag(imei != s.last_device)),  # 19 imei_changed
        float(devices_24h),  # 20
        voice_1h, voice_1h / vb, voice_24h / vb, (w1[SMO] + w1[SMT]) / sb, (w24[SMO] + w24[SMT]) / sb,  # 21-25
        data_24h, data_1h / db, data_24h / db,  # 26-28
        float(w1[VMO]), float(w24[VMO]), share(w24[VMO], w24[VMO] + w24[VMT]), share(w24[SHORT], w24[VMO]),  # 29-32
        float(d1), float(d24), float(countries_24h), float(w24[RISKY]), float(w24[INTL]),  # 33-37
        share(w24[NIGHT], w24[EV]), float(w24[FWD]), float(w1[EV]),  # 38-40
        float(days), voice_1h / voice_peak, data_1h / data_peak,  # 41 history_days, 42-43 *_1h_vs_peak
    ]

def cap(d, n, last):  # keep the n most recent entries (state.rs cap_most_recent)
    return d if len(d) <= n else dict(sorted(d.items(), key=lambda kv: -last(kv[1]))[:n])

def add(table, start, usage, bit):
    b = table.get(start) or [0] * 13
    table[start] = [x + y for x, y in zip(b[:SKETCH], usage)] + [b[SKETCH] | bit]

def apply(s, e, usage):
    """LiveState::apply: fold the event in once, roll the last hour into hours, count it into the
    own history, prune. False when the event was applied already."""
    if e["id"] in s.applied:
        return False
    s.applied = s.applied[-7:] + [e["id"]]
    t, first_event = e["t"], s.last_t is None
    newest = t if s.last_t is None else max(s.last_t, t)
    for start in [k for k in s.recent if k < recent_from(newest)]:  # left the last hour: into its hour
        b = s.recent.pop(start)
        add(s.hours, start - start % HOUR, b, b[SKETCH])
    if t >= recent_from(newest):
        add(s.recent, t - t % BUCKET, usage, e["bit"])
    elif t >= day_from(newest):
        add(s.hours, t - t % HOUR, usage, e["bit"])
    if e["called_country"] is not None:
        s.called_countries[e["called_country"]] = max(s.called_countries.get(e["called_country"], t), t)
    for table, key in ((s.devices, e["imei"]), (s.visited, e["visited"])):
        if key is not None:
            seen = table.setdefault(key, [t, t])
            seen[0], seen[1] = min(seen[0], t), max(seen[1], t)
    # The last hour up to the event, itself included once bucketed: the day's busiest hour so far.
    history_add(s, t, usage, hour_and_day(s, t, NO_USAGE, 0)[0], first_event)
    if t >= newest:  # a late event does not move the last position back
        s.last_t, s.last_country, s.last_device = t, e["visited"], e["imei"] or s.last_device
    for start in [k for k in s.hours if k < day_from(newest)]:
        del s.hours[start]
    for c in [c for c, last in s.called_countries.items() if last <= newest - DAY]:
        del s.called_countries[c]
    s.devices = cap(s.devices, MAX_DEVICES, lambda v: v[1])
    s.visited = cap(s.visited, MAX_COUNTRIES, lambda v: v[1])
    return True

# --- Module-level "cold start" state, as in the Lambda samples: loaded once, used by every call.
PROFILES, STATES, VERDICTS, DEAD_LETTERS = {}, {}, {}, []
BOOSTER = META = OUT = None

def handler(record, position):
    """One raw record in; one verdict line written, or one dead letter kept."""
    try:
        e = validate(json.loads(record))
    except Invalid as err:
        return DEAD_LETTERS.append({"source_position": position, "field": err.args[0], "reason": err.args[1]})
    except ValueError as err:  # not JSON, or not UTF-8
        return DEAD_LETTERS.append({"source_position": position, "field": "", "reason": f"not valid JSON: {err}"})
    p = PROFILES.get(e["imsi"])
    if (s := STATES.get(e["imsi"])) is None:
        s = STATES[e["imsi"]] = State()
    usage = usage_of(e, p and p["home_country"])
    fp = fingerprint(e["id"])
    if (stored := VERDICTS.get(e["id"])) is not None:  # a replayed event gets its stored verdict back
        verdict, score = stored
        # It counts only if older than the state's last 8 applied ids, as in Rust, and then its
        # stored score is marked again, as Batch::features does when the state takes a stored event.
        if apply(s, e, usage):
            mark(s, fp, e["t"], score)
    else:
        row = features(e, p, s, usage)
        apply(s, e, usage)
        score = float(BOOSTER.inplace_predict(np.array([row], dtype=np.float32))[0])
        decision = decide(score, s, fp, e["t"])  # by the marks of earlier events (Batch::decide),
        mark(s, fp, e["t"], score)  # then this one's score is marked
        # Verdict v1's fields as `roamguard score --out` writes them (enforce mode), but `reasons`
        # only on ALLOW, where it is empty: the SHAP reasons of REVIEW/BLOCK are not computed here.
        v = {"event_id": e["id"], "imsi": e["imsi"], "event_time": e["time"], "decision": decision, "score": score}
        if decision == "ALLOW":
            v["reasons"] = []
        v.update(model_version=META["version"], degraded=False, enforced=True,
                 scored_at=datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"), decided_by="model")
        verdict = json.dumps(v)
        VERDICTS[e["id"]] = verdict, score
    OUT.write(verdict + "\n")

def main():
    global BOOSTER, META, OUT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profiles", required=True, help="SubscriberProfile v1, JSON Lines")
    ap.add_argument("--events", required=True, help="RoamingEvent v1, JSON Lines, in arrival order")
    ap.add_argument("--model-dir", default="models", help="model.json and metadata.json")
    ap.add_argument("--out", required=True, help="verdicts, JSON Lines")
    ap.add_argument("--limit", type=int, help="stop after N records")
    ap.add_argument("--nthread", type=int, default=1, help="xgboost threads (0: its default, all cores)")
    args = ap.parse_args()
    started = time.perf_counter()
    with open(args.profiles, "rb") as f:
        for p in map(json.loads, filter(bytes.strip, f)):
            for k in ("avg_daily_voice_min", "avg_daily_sms", "avg_daily_data_mb"):
                p[k] = f32(p[k])  # RoamGuard holds the baselines as f32
            p["home_country"] = p["home_country"].upper()
            p["usual_countries"] = {c.upper() for c in p.get("usual_countries", ())}
            p["known_devices"] = {i[:14] for i in p.get("known_imeis", ())}
            PROFILES[p["imsi"]] = p
    meta = json.loads(Path(args.model_dir, "metadata.json").read_text())
    # Escalation as model.rs reads it: the serde default (decision.rs Escalation::default) when absent.
    esc = meta.get("escalation", {"earlier_flags": 1, "window_hours": 24})
    instant = esc.get("instant_block")
    META = {"version": meta["model_version"], "review": f32(meta["thresholds"]["review"]),
            "block": f32(meta["thresholds"]["block"]),  # thresholds compared as f32, as decision.rs does
            "earlier_flags": int(esc["earlier_flags"]), "window_secs": int(esc["window_hours"]) * HOUR,
            "instant_block": None if instant is None else f32(instant)}
    # One thread by default: spreading a 1-row predict over OpenMP threads makes it ~3x slower, and
    # the baseline should be the fastest honest per-record handler, not a slowed-down one.
    BOOSTER = xgb.Booster(model_file=str(Path(args.model_dir, "model.json")),
                          params={"nthread": args.nthread} if args.nthread else {})
    assert BOOSTER.feature_names == meta["feature_names"] and len(meta["feature_names"]) == 44
    n = 0
    with open(args.events, "rb") as events, open(args.out, "w") as OUT:
        for line_no, line in enumerate(events, 1):
            if args.limit is not None and n >= args.limit:
                break
            if line.strip():  # blank lines are not records
                handler(line, f"line {line_no}")
                n += 1
    secs = time.perf_counter() - started
    print(json.dumps({"events": n, "dead_letters": len(DEAD_LETTERS), "seconds": round(secs, 3),
                      "events_per_sec": round(n / secs, 1)}))

if __name__ == "__main__":
    main()
