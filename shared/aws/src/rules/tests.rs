//! The reload logic on a fake source and a fake clock (the instants handed to `check`): which
//! reads a check makes, and which set is in force after good, broken, fixed, removed and
//! unavailable files. The same against S3 (moto): shared/aws/tests/aws_adapters.rs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use roamguard::events::RoamingEvent;
use roamguard::features::NUM_FEATURES;
use roamguard::rules::RuleInput;
use roamguard::verdict::Decision;

use super::*;

const BUCKET: &str = "config";
const RULES_KEY: &str = "rules/rules.yaml";
const VIP_KEY: &str = "rules/lists/vip.txt";
const VIP: &str = "208150000000001";
const OTHER: &str = "208150000000002";

const GOOD: &str = r#"
lists:
  vip_imsis: {file: lists/vip.txt}
  irsf_ranges: ["88216", "88213"]
rules:
  - id: vip-never-blocked
    when: event.imsi in lists.vip_imsis
    then: ALLOW
  - id: irsf-range
    when: has(event.called_number) && lists.irsf_ranges.exists(p, event.called_number.startsWith(p))
    then: BLOCK
"#;

/// `irsf-range` refers to a list the file does not define.
const BROKEN: &str = r#"
rules:
  - id: vip-never-blocked
    when: event.imsi == "208150000000001"
    then: ALLOW
  - id: irsf-range
    when: event.called_number in lists.irsf_rangez
    then: BLOCK
"#;

const FIXED: &str = r#"
lists:
  irsf_ranges: ["88216"]
rules:
  - id: irsf-range
    when: has(event.called_number) && lists.irsf_ranges.exists(p, event.called_number.startsWith(p))
    then: BLOCK
"#;

struct Stored {
    id: String,
    /// None: a delete marker.
    bytes: Option<Vec<u8>>,
    etag: String,
}

/// An S3 bucket in memory: versions per key, content-derived ETags (as S3's), the reads made,
/// and a switch that makes S3 unavailable.
#[derive(Default)]
struct FakeS3 {
    objects: Mutex<HashMap<String, Vec<Stored>>>,
    reads: Mutex<Vec<String>>,
    down: AtomicBool,
    next_version: Mutex<u32>,
}

impl FakeS3 {
    /// A new latest version of `key`; returns its version id.
    fn put(&self, key: &str, body: &str) -> String {
        let mut n = self.next_version.lock().unwrap();
        *n += 1;
        let id = format!("v{n}");
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in body.bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let stored = Stored { id: id.clone(), bytes: Some(body.as_bytes().to_vec()), etag: format!("\"{hash:016x}\"") };
        self.objects.lock().unwrap().entry(key.to_string()).or_default().push(stored);
        id
    }

    /// A delete marker on top of `key`'s versions.
    fn delete(&self, key: &str) {
        let stored = Stored { id: "marker".into(), bytes: None, etag: String::new() };
        self.objects.lock().unwrap().entry(key.to_string()).or_default().push(stored);
    }

    /// The reads made since the last call, as "key" or "key if-none-match".
    fn take_reads(&self) -> Vec<String> {
        std::mem::take(&mut *self.reads.lock().unwrap())
    }
}

#[async_trait]
impl RulesSource for Arc<FakeS3> {
    async fn get(
        &self,
        location: &ObjectLocation,
        etag: Option<&str>,
        _kind: ObjectKind,
    ) -> Result<Option<ConfigObject>, ConfigObjectError> {
        let conditional = if etag.is_some() { " if-none-match" } else { "" };
        self.reads.lock().unwrap().push(format!("{}{conditional}", location.key));
        let name = location.to_string();
        if self.down.load(Ordering::SeqCst) {
            return Err(ConfigObjectError::Unavailable { location: name, detail: "503 SlowDown".into() });
        }
        let objects = self.objects.lock().unwrap();
        let versions = objects.get(&location.key).map(Vec::as_slice).unwrap_or_default();
        let found = match &location.version_id {
            Some(v) => versions.iter().find(|s| &s.id == v),
            None => versions.last(),
        };
        let not_found = |code: &str| ConfigObjectError::NotFound { location: name.clone(), code: code.into() };
        let Some(stored) = found else { return Err(not_found("NoSuchKey")) };
        let Some(bytes) = &stored.bytes else { return Err(not_found("NoSuchKey")) };
        if etag == Some(stored.etag.as_str()) {
            return Ok(None);
        }
        Ok(Some(ConfigObject {
            bytes: bytes.clone(),
            version_id: Some(stored.id.clone()),
            etag: Some(stored.etag.clone()),
        }))
    }

    async fn versions(&self, location: &ObjectLocation, limit: usize) -> Result<Vec<String>, ConfigObjectError> {
        let objects = self.objects.lock().unwrap();
        let versions = objects.get(&location.key).map(Vec::as_slice).unwrap_or_default();
        Ok(versions.iter().rev().filter(|s| s.bytes.is_some()).map(|s| s.id.clone()).take(limit).collect())
    }
}

fn config() -> RulesConfig {
    RulesConfig {
        location: ObjectLocation::parse(&format!("s3://{BUCKET}/{RULES_KEY}")).unwrap(),
        reload_every: Duration::from_secs(60),
    }
}

async fn start(s3: &Arc<FakeS3>, at: Instant) -> Result<(RulesReloader, RulesReport), RulesInitError> {
    RulesReloader::start(Arc::new(s3.clone()), &config(), at).await
}

fn call(imsi: &str, number: &str) -> RoamingEvent {
    let json = format!(
        r#"{{"event_id":"e1","event_time":"2026-06-01T12:00:00Z","imsi":"{imsi}","event_type":"voice_mo",
            "visited_country":"ES","called_number":"{number}","duration_s":60}}"#
    );
    RoamingEvent::from_json(json.as_bytes()).unwrap()
}

/// Which rule the set in force has decide the event (None: the model).
fn decided_by(reloader: &RulesReloader, imsi: &str, number: &str) -> Option<(String, Decision)> {
    let event = call(imsi, number);
    let features = [f32::NAN; NUM_FEATURES];
    let input =
        RuleInput { event: &event, profile: None, features: &features, score: 0.9, model_decision: Decision::Block };
    reloader.active().get().evaluate(&input).decided_by
}

fn version(reloader: &RulesReloader) -> Option<String> {
    reloader.active().get().version().map(str::to_string)
}

#[tokio::test]
async fn when_started_with_a_good_file_and_its_list_should_put_them_in_force_under_the_s3_version() {
    let s3 = Arc::new(FakeS3::default());
    s3.put(VIP_KEY, &format!("# VIPs\n{VIP}\n"));
    let v = s3.put(RULES_KEY, GOOD);
    let (reloader, report) = start(&s3, Instant::now()).await.unwrap();
    let in_force = version(&reloader).unwrap();
    assert!(in_force.starts_with(&format!("{v}+lists.")), "{in_force}");
    assert_eq!(
        report,
        RulesReport {
            outcome: ReloadOutcome::Loaded { version: in_force.clone() },
            version: Some(in_force),
            rejected: false
        }
    );
    assert_eq!(report.emf("score-stream", 0)["RulesRejected"], 0);
    assert_eq!(decided_by(&reloader, VIP, "88216123"), Some(("vip-never-blocked".into(), Decision::Allow)));
    assert_eq!(decided_by(&reloader, OTHER, "88216123"), Some(("irsf-range".into(), Decision::Block)));
    assert_eq!(decided_by(&reloader, OTHER, "33612345678"), None);
    assert_eq!(s3.take_reads(), [RULES_KEY, VIP_KEY], "the rules file, then its list next to it");
}

#[tokio::test]
async fn when_a_check_is_not_due_should_read_nothing_and_when_due_ask_with_the_etags_seen() {
    let s3 = Arc::new(FakeS3::default());
    s3.put(VIP_KEY, VIP);
    s3.put(RULES_KEY, GOOD);
    let t0 = Instant::now();
    let (reloader, _) = start(&s3, t0).await.unwrap();
    s3.take_reads();

    assert_eq!(reloader.check(t0 + Duration::from_secs(59)).await, None, "not due yet");
    assert!(s3.take_reads().is_empty());
    let report = reloader.check(t0 + Duration::from_secs(60)).await.expect("due");
    assert_eq!(report.outcome, ReloadOutcome::Unchanged);
    assert!(!report.rejected);
    assert_eq!(s3.take_reads(), [format!("{RULES_KEY} if-none-match"), format!("{VIP_KEY} if-none-match")]);
    // At most once per interval from the last check.
    assert_eq!(reloader.check(t0 + Duration::from_secs(119)).await, None);
    assert!(reloader.check(t0 + Duration::from_secs(120)).await.is_some());
}

#[tokio::test]
async fn when_a_new_version_is_broken_should_keep_the_good_one_until_a_fixed_one_replaces_it() {
    let s3 = Arc::new(FakeS3::default());
    s3.put(VIP_KEY, VIP);
    s3.put(RULES_KEY, GOOD);
    let t0 = Instant::now();
    let (reloader, _) = start(&s3, t0).await.unwrap();
    let good = version(&reloader);

    s3.put(RULES_KEY, BROKEN);
    let report = reloader.check(t0 + Duration::from_secs(60)).await.unwrap();
    let ReloadOutcome::Refused { reason } = &report.outcome else { panic!("{report:?}") };
    assert!(reason.contains("irsf-range") && reason.contains(RULES_KEY), "names the rule and the file: {reason}");
    assert!(reason.contains("roamguard rules check"), "says what to do: {reason}");
    assert!(!reason.contains("208150000000001"), "no subscriber identifier in the reason: {reason}");
    assert!(report.rejected && report.version == good);
    assert_eq!(report.emf("score-api", 0)["RulesRejected"], 1);
    assert_eq!(version(&reloader), good, "the last good set stays in force");
    assert_eq!(decided_by(&reloader, VIP, "33612345678"), Some(("vip-never-blocked".into(), Decision::Allow)));

    // Nothing new: no recompilation, still rejected (the alarm stays up).
    s3.take_reads();
    let report = reloader.check(t0 + Duration::from_secs(120)).await.unwrap();
    assert_eq!((report.outcome, report.rejected), (ReloadOutcome::Unchanged, true));
    assert_eq!(s3.take_reads(), [format!("{RULES_KEY} if-none-match")], "the broken file names no list");

    let fixed = s3.put(RULES_KEY, FIXED);
    let report = reloader.check(t0 + Duration::from_secs(180)).await.unwrap();
    assert_eq!(report.outcome, ReloadOutcome::Loaded { version: fixed.clone() });
    assert!(!report.rejected);
    assert_eq!(version(&reloader), Some(fixed), "no list file: the S3 version id alone");
    assert_eq!(decided_by(&reloader, VIP, "882161"), Some(("irsf-range".into(), Decision::Block)), "VIP rule gone");
}

#[tokio::test]
async fn when_the_rules_file_is_removed_should_keep_the_last_good_set_and_report_it_once() {
    let s3 = Arc::new(FakeS3::default());
    s3.put(RULES_KEY, FIXED);
    let t0 = Instant::now();
    let (reloader, _) = start(&s3, t0).await.unwrap();
    let good = version(&reloader);

    s3.delete(RULES_KEY);
    let report = reloader.check(t0 + Duration::from_secs(60)).await.unwrap();
    let ReloadOutcome::Missing { reason } = &report.outcome else { panic!("{report:?}") };
    assert!(reason.contains("not found") && reason.contains(RULES_KEY), "{reason}");
    assert!(report.rejected);
    assert_eq!(version(&reloader), good);
    // Still gone: unchanged, still counted.
    let report = reloader.check(t0 + Duration::from_secs(120)).await.unwrap();
    assert_eq!((report.outcome, report.rejected), (ReloadOutcome::Unchanged, true));
    assert_eq!(decided_by(&reloader, OTHER, "882161"), Some(("irsf-range".into(), Decision::Block)));

    // Uploaded again (the same content: the same ETag it had) is in force again.
    let again = s3.put(RULES_KEY, FIXED);
    let report = reloader.check(t0 + Duration::from_secs(180)).await.unwrap();
    assert_eq!((report.outcome, report.rejected), (ReloadOutcome::Loaded { version: again }, false));
}

#[tokio::test]
async fn when_only_a_list_file_changes_should_reload_the_set_under_a_new_version() {
    let s3 = Arc::new(FakeS3::default());
    s3.put(VIP_KEY, VIP);
    let rules_version = s3.put(RULES_KEY, GOOD);
    let t0 = Instant::now();
    let (reloader, _) = start(&s3, t0).await.unwrap();
    let before = version(&reloader).unwrap();
    assert_eq!(decided_by(&reloader, OTHER, "882161"), Some(("irsf-range".into(), Decision::Block)));

    s3.put(VIP_KEY, &format!("{VIP}\n{OTHER}\n"));
    let report = reloader.check(t0 + Duration::from_secs(60)).await.unwrap();
    let ReloadOutcome::Loaded { version: after } = &report.outcome else { panic!("{report:?}") };
    assert!(after.starts_with(&format!("{rules_version}+lists.")) && *after != before, "{before} -> {after}");
    assert_eq!(decided_by(&reloader, OTHER, "882161"), Some(("vip-never-blocked".into(), Decision::Allow)));

    // A list file removed: the rules file is refused, the set with the list stays.
    s3.delete(VIP_KEY);
    let report = reloader.check(t0 + Duration::from_secs(120)).await.unwrap();
    let ReloadOutcome::Refused { reason } = &report.outcome else { panic!("{report:?}") };
    assert!(reason.contains("vip_imsis") && reason.contains(VIP_KEY), "names the list and its file: {reason}");
    assert_eq!(version(&reloader).as_deref(), Some(after.as_str()));
    // Uploaded again: accepted.
    s3.put(VIP_KEY, VIP);
    let report = reloader.check(t0 + Duration::from_secs(180)).await.unwrap();
    assert!(matches!(report.outcome, ReloadOutcome::Loaded { .. }) && !report.rejected, "{report:?}");
}

#[tokio::test]
async fn when_s3_is_unavailable_during_a_check_should_keep_the_set_and_try_again_at_the_next() {
    let s3 = Arc::new(FakeS3::default());
    s3.put(RULES_KEY, FIXED);
    let t0 = Instant::now();
    let (reloader, _) = start(&s3, t0).await.unwrap();
    let good = version(&reloader);
    let newer = s3.put(RULES_KEY, GOOD.replace("lists/vip.txt", "vip.txt").as_str());
    s3.put("rules/vip.txt", VIP);

    s3.down.store(true, Ordering::SeqCst);
    let report = reloader.check(t0 + Duration::from_secs(60)).await.unwrap();
    assert!(matches!(report.outcome, ReloadOutcome::Unavailable { .. }) && !report.rejected, "{report:?}");
    assert_eq!(version(&reloader), good);
    s3.down.store(false, Ordering::SeqCst);
    let report = reloader.check(t0 + Duration::from_secs(120)).await.unwrap();
    let ReloadOutcome::Loaded { version } = report.outcome else { panic!("{report:?}") };
    assert!(version.starts_with(&format!("{newer}+lists.")), "{version}");
}

#[tokio::test]
async fn when_the_latest_file_is_broken_at_start_should_start_on_the_newest_earlier_version_that_compiles() {
    let s3 = Arc::new(FakeS3::default());
    let good = s3.put(RULES_KEY, FIXED);
    s3.put(RULES_KEY, "rules: [{id: Bad_Id, when: 'true', then: BLOCK}]");
    s3.put(RULES_KEY, BROKEN);
    let t0 = Instant::now();
    let (reloader, report) = start(&s3, t0).await.unwrap();
    let ReloadOutcome::FellBack { version, latest } = &report.outcome else { panic!("{report:?}") };
    assert_eq!(version, &good);
    assert!(latest.contains("irsf-range"), "{latest}");
    assert!(report.rejected, "RulesRejected = 1: the latest file is not the one in force");
    assert_eq!(self::version(&reloader), Some(good));
    // The broken latest is not compiled again at every check.
    s3.take_reads();
    let report = reloader.check(t0 + Duration::from_secs(60)).await.unwrap();
    assert_eq!((report.outcome, report.rejected), (ReloadOutcome::Unchanged, true));
    assert_eq!(s3.take_reads(), [format!("{RULES_KEY} if-none-match")]);
}

#[tokio::test]
async fn when_no_version_is_usable_at_start_should_fail_saying_why() {
    // Only broken versions.
    let s3 = Arc::new(FakeS3::default());
    s3.put(RULES_KEY, "rules: [{id: x, when: 'event.imsi ==', then: BLOCK}]");
    s3.put(RULES_KEY, BROKEN);
    let Err(RulesInitError(message)) = start(&s3, Instant::now()).await else { panic!("started") };
    assert!(message.contains("no usable version") && message.contains("irsf-range"), "{message}");
    assert!(message.contains("earlier versions compiles either"), "{message}");

    // A list file that is not there, and no earlier version.
    let s3 = Arc::new(FakeS3::default());
    s3.put(RULES_KEY, GOOD);
    let Err(RulesInitError(message)) = start(&s3, Instant::now()).await else { panic!("started") };
    assert!(
        message.contains("vip_imsis") && message.contains(VIP_KEY) && message.contains("no earlier version"),
        "{message}"
    );

    // No rules file at all.
    let s3 = Arc::new(FakeS3::default());
    let Err(RulesInitError(message)) = start(&s3, Instant::now()).await else { panic!("started") };
    assert!(message.contains("not found") && message.contains(RULES_KEY), "{message}");

    // S3 down: fails too (Lambda starts the function again on the next invocation).
    let s3 = Arc::new(FakeS3::default());
    s3.put(RULES_KEY, FIXED);
    s3.down.store(true, Ordering::SeqCst);
    let Err(RulesInitError(message)) = start(&s3, Instant::now()).await else { panic!("started") };
    assert!(message.contains("unavailable") && message.contains("next invocation"), "{message}");
}

#[tokio::test]
async fn when_the_rules_file_has_no_rules_should_leave_every_decision_to_the_model() {
    let s3 = Arc::new(FakeS3::default());
    s3.put(RULES_KEY, "rules: []\n");
    let (reloader, report) = start(&s3, Instant::now()).await.unwrap();
    assert!(!report.rejected);
    assert!(reloader.active().get().is_empty());
    assert_eq!(version(&reloader), None, "verdicts carry no rules_version without rules");
    assert_eq!(decided_by(&reloader, VIP, "882161"), None);
}

#[test]
fn when_resolving_a_list_file_should_stay_in_the_rules_file_directory() {
    let rules = ObjectLocation::parse("s3://config/rules/rules.yaml").unwrap();
    let at = |path: &str| list_location(&rules, path).map(|l| l.to_string());
    assert_eq!(at("vip.txt").unwrap(), "s3://config/rules/vip.txt");
    assert_eq!(at("lists/vip.txt").unwrap(), "s3://config/rules/lists/vip.txt");
    for bad in ["", "/etc/vip.txt", "../thresholds.json", "lists/../../x", "./vip.txt", "lists//vip.txt", "lists/"] {
        assert!(at(bad).is_err(), "{bad:?}");
    }
    let at_root = ObjectLocation::parse("s3://config/rules.yaml").unwrap();
    assert_eq!(list_location(&at_root, "vip.txt").unwrap().key, "vip.txt");
}

#[test]
fn when_naming_the_version_should_use_the_version_id_else_the_etag_and_hash_the_lists() {
    let list = |key: &str, v: &str| ListRead {
        location: ObjectLocation { bucket: BUCKET.into(), key: key.into(), version_id: None },
        etag: Some("\"e\"".into()),
        version_id: Some(v.into()),
    };
    assert_eq!(set_version(&Some("3HL4kq".into()), &Some("\"abc\"".into()), &[]), "3HL4kq");
    assert_eq!(set_version(&Some("null".into()), &Some("\"abc\"".into()), &[]), "abc", "unversioned: the ETag");
    let a = set_version(&Some("v1".into()), &None, &[list(VIP_KEY, "l1")]);
    let b = set_version(&Some("v1".into()), &None, &[list(VIP_KEY, "l2")]);
    assert!(a.starts_with("v1+lists.") && a.len() == "v1+lists.".len() + 16 && a != b, "{a} {b}");
}

#[test]
fn when_redacting_a_reason_should_hide_long_digit_runs_only() {
    assert_eq!(
        redact_numbers("rule vip: event.imsi == \"208150000000001\" at line 12 column 5, prefix 88216"),
        "rule vip: event.imsi == \"20815…(15 digits)\" at line 12 column 5, prefix 88216"
    );
}
