//! Analysts' rules in the Lambdas: the rules file at `RULES_URI` (and the list files it names,
//! read next to it) loaded when an execution environment starts, then checked for a new version
//! every `RULES_RELOAD_SECONDS` (60 by default) with conditional GETs on the ETags last seen.
//!
//! - A new version that compiles replaces the set in force ([`ActiveRules::replace`]): each batch
//!   or request uses the set in force when it starts. Its verdicts carry the S3 version id of the
//!   rules file (the ETag in an unversioned bucket) as `rules_version`, with `+lists.<hash>` of
//!   the list files' versions when there are list files (a list-only change is a new set too).
//! - A new version that does not compile, or whose list files cannot be read, is refused: one
//!   ERROR log line naming the rule or list and what to fix (numbers that could be subscriber
//!   identifiers redacted), `RulesRejected` = 1 in the metric line of every check while it is the
//!   latest, and the last good set stays in force. A removed or forbidden rules file is handled
//!   the same way. S3 unavailable: a WARN, the set in force stays, the next check tries again.
//! - At start, a latest version that is refused is not fatal while an earlier version of the file
//!   compiles (up to [`EARLIER_VERSIONS`] are tried, newest first): a new execution environment
//!   starting during a bad upload decides like the ones already running. With no good version at
//!   all, [`RulesReloader::start`] fails and the function fails its init, saying why.
//!
//! The check runs where [`RulesReloader::check`] is called: the functions call it at the start of
//! an invocation (see their `main.rs` for why not a background task).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use roamguard::rules::{ActiveRules, RuleSet, RulesError};
use serde_json::Value;

use crate::SdkConfig;
use crate::config::RulesConfig;
use crate::config_object::{ConfigObject, ConfigObjectError, ConfigObjects, ObjectLocation};

/// A rules file larger than this is refused: rules are kilobytes.
pub const RULES_MAX_BYTES: usize = 1024 * 1024;
/// A list file larger than this is refused: 100,000 IMSIs of 15 digits are 1.6 MB.
pub const LIST_MAX_BYTES: usize = 16 * 1024 * 1024;
/// Earlier versions of the rules file tried at start when the latest is refused.
pub const EARLIER_VERSIONS: usize = 10;
/// The compiling thread's stack: the CEL parser recurses deeply on long expressions, deeper than
/// a tokio worker's 2 MiB allow. Reserved address space; only the pages used are memory.
const COMPILE_STACK: usize = 32 * 1024 * 1024;

/// Which kind of object a read is for (the size limit differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    RulesFile,
    ListFile,
}

/// Where the rules file and its lists are read: S3 in the functions ([`S3RulesSource`]), a fake
/// in tests.
#[async_trait]
pub trait RulesSource: Send + Sync + 'static {
    /// The object at `location` (its pinned version, else the latest); `None` when its ETag is
    /// still `etag` (with `etag` None, never `None`).
    async fn get(
        &self,
        location: &ObjectLocation,
        etag: Option<&str>,
        kind: ObjectKind,
    ) -> Result<Option<ConfigObject>, ConfigObjectError>;

    /// The version ids of `location`'s key, newest first, at most `limit`.
    async fn versions(&self, location: &ObjectLocation, limit: usize) -> Result<Vec<String>, ConfigObjectError>;
}

/// [`RulesSource`] on S3 ([`ConfigObjects`]).
pub struct S3RulesSource {
    rules: ConfigObjects,
    lists: ConfigObjects,
}

impl S3RulesSource {
    pub fn new(sdk: &SdkConfig) -> S3RulesSource {
        let rules = ConfigObjects::new(sdk).with_max_bytes(RULES_MAX_BYTES);
        S3RulesSource { lists: rules.clone().with_max_bytes(LIST_MAX_BYTES), rules }
    }
}

#[async_trait]
impl RulesSource for S3RulesSource {
    async fn get(
        &self,
        location: &ObjectLocation,
        etag: Option<&str>,
        kind: ObjectKind,
    ) -> Result<Option<ConfigObject>, ConfigObjectError> {
        let objects = match kind {
            ObjectKind::RulesFile => &self.rules,
            ObjectKind::ListFile => &self.lists,
        };
        objects.fetch_if_changed(location, etag).await
    }

    async fn versions(&self, location: &ObjectLocation, limit: usize) -> Result<Vec<String>, ConfigObjectError> {
        self.rules.versions(location, limit).await
    }
}

/// Where a list file named `{file: path}` in the rules file at `rules` is: `path` relative to the
/// rules file's directory, in the same bucket (the template lets the functions read that
/// directory only). Absolute paths and `.` / `..` segments are refused: a list cannot point out
/// of the directory.
pub fn list_location(rules: &ObjectLocation, path: &str) -> Result<ObjectLocation, String> {
    let segments: Vec<&str> = path.split('/').collect();
    if path.is_empty() || segments.iter().any(|s| s.is_empty() || *s == "." || *s == "..") {
        return Err(format!(
            "{path:?} is not a path relative to the rules file's directory (no leading '/', no '.' or '..', no empty segments)"
        ));
    }
    let key = match rules.key.rsplit_once('/') {
        Some((directory, _)) => format!("{directory}/{path}"),
        None => path.to_string(),
    };
    Ok(ObjectLocation { bucket: rules.bucket.clone(), key, version_id: None })
}

/// A list file as read for a compilation.
#[derive(Debug, Clone, PartialEq)]
struct ListRead {
    location: ObjectLocation,
    /// None: it could not be read.
    etag: Option<String>,
    version_id: Option<String>,
}

/// Why a rules file was not put in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// What is wrong and what to fix, naming the rule or list at fault.
    pub reason: String,
    /// S3 was unavailable: the same read may succeed later (the file itself may be fine).
    pub retriable: bool,
}

/// One read of the rules file (at some version) and its lists, and what came of it.
struct Attempt {
    /// The rules object read: (ETag, version id). None: it could not be read.
    read: Option<(Option<String>, Option<String>)>,
    lists: Vec<ListRead>,
    outcome: Result<RuleSet, Refusal>,
}

/// What a start or a check did.
#[derive(Debug, Clone, PartialEq)]
pub enum ReloadOutcome {
    /// A rules file version was put in force (at start, or a new one on a check).
    Loaded { version: String },
    /// At start: the latest version was refused, an earlier one is in force.
    FellBack { version: String, latest: String },
    /// Neither the rules file nor its lists changed.
    Unchanged,
    /// The new version was refused; the last good set stays in force.
    Refused { reason: String },
    /// The rules file can no longer be read (deleted, forbidden); the last good set stays.
    Missing { reason: String },
    /// S3 did not answer; the set in force stays and the next check tries again.
    Unavailable { reason: String },
}

/// The result of a start or a check, for the function's metric line.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesReport {
    pub outcome: ReloadOutcome,
    /// The version of the set in force.
    pub version: Option<String>,
    /// The latest rules file is not the one in force (refused, missing): `RulesRejected` = 1.
    pub rejected: bool,
}

impl RulesReport {
    /// The CloudWatch Embedded Metric Format line: `RulesRejected` 1 while the latest rules file
    /// is refused or missing, else 0 (namespace `RoamGuard`, dimension `Function`). Printed on
    /// every check, so `RulesRejectedAlarm` stays in alarm as long as the bad file is the latest.
    pub fn emf(&self, function: &str, timestamp_ms: i64) -> Value {
        roamguard::metrics::count_emf(function, "RulesRejected", u64::from(self.rejected), timestamp_ms)
    }
}

/// Why a function cannot start with its rules: no version of the rules file is usable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct RulesInitError(pub String);

/// What the reloader last saw.
struct Watch {
    next_check: Instant,
    /// ETag of the latest rules file seen, accepted or refused. None: it could not be read.
    rules_etag: Option<String>,
    /// The list files of that version, with their ETags as read.
    lists: Vec<ListRead>,
    /// Why the latest rules file is not the one in force (None: it is).
    refused: Option<String>,
    /// The version in force.
    version: Option<String>,
}

/// The rules in force in one execution environment and their reloading.
pub struct RulesReloader {
    source: Arc<dyn RulesSource>,
    location: ObjectLocation,
    every: Duration,
    active: Arc<ActiveRules>,
    watch: tokio::sync::Mutex<Watch>,
}

impl RulesReloader {
    /// Loads the rules file (its latest version, else the newest earlier version that compiles)
    /// at `now`; the first check is due `config.reload_every` later. Fails when no version is
    /// usable, or when S3 does not answer (a function then fails its init, and Lambda starts it
    /// again on the next invocation).
    pub async fn start(
        source: Arc<dyn RulesSource>,
        config: &RulesConfig,
        now: Instant,
    ) -> Result<(RulesReloader, RulesReport), RulesInitError> {
        let location = config.location.clone();
        let first = source.get(&location, None, ObjectKind::RulesFile).await.transpose();
        let latest = attempt(&source, &location, first).await;
        let (set, outcome, refused) = match latest.outcome {
            Ok(set) => {
                let version = set.version().unwrap_or("no rules").to_string();
                tracing::info!(
                    uri = %location,
                    %version,
                    rules = set.rules().len(),
                    lists = ?set.list_names(),
                    list_files = %describe(&latest.lists),
                    "rules file accepted"
                );
                (set, ReloadOutcome::Loaded { version }, None)
            }
            Err(refusal) if refusal.retriable => {
                return Err(RulesInitError(format!(
                    "cannot start without the rules file: {} (the next invocation starts the function again)",
                    refusal.reason
                )));
            }
            Err(refusal) => {
                let latest_version = latest.read.as_ref().and_then(|(_, v)| v.clone());
                let set = earlier_good_version(&source, &location, latest_version.as_deref(), &refusal).await?;
                let version = set.version().unwrap_or("no rules").to_string();
                tracing::error!(
                    uri = %location,
                    reason = %refusal.reason,
                    in_force = %version,
                    "rules file rejected: deciding with the newest earlier version that compiles; fix the file and upload it again"
                );
                (set, ReloadOutcome::FellBack { version, latest: refusal.reason.clone() }, Some(refusal.reason))
            }
        };
        let version = set.version().map(str::to_string);
        let rejected = refused.is_some();
        let watch = Watch {
            next_check: now + config.reload_every,
            rules_etag: latest.read.and_then(|(etag, _)| etag),
            lists: latest.lists,
            refused,
            version: version.clone(),
        };
        let reloader = RulesReloader {
            source,
            location,
            every: config.reload_every,
            active: Arc::new(ActiveRules::new(set)),
            watch: tokio::sync::Mutex::new(watch),
        };
        Ok((reloader, RulesReport { outcome, version, rejected }))
    }

    /// [`RulesReloader::start`] on S3.
    pub async fn start_on_s3(
        sdk: &SdkConfig,
        config: &RulesConfig,
    ) -> Result<(RulesReloader, RulesReport), RulesInitError> {
        RulesReloader::start(Arc::new(S3RulesSource::new(sdk)), config, Instant::now()).await
    }

    /// The rules in force, for [`roamguard::pipeline::Pipeline::with_rules`] and
    /// [`roamguard::api::Api::with_rules`].
    pub fn active(&self) -> Arc<ActiveRules> {
        self.active.clone()
    }

    pub fn location(&self) -> &ObjectLocation {
        &self.location
    }

    /// When a check is due at `now` (none has run for the interval), checks the rules file and
    /// its lists with conditional GETs and puts a new version in force if it compiles. None when
    /// no check was due (or another one is running).
    pub async fn check(&self, now: Instant) -> Option<RulesReport> {
        let mut watch = self.watch.try_lock().ok()?;
        if now < watch.next_check {
            return None;
        }
        watch.next_check = now + self.every;
        let outcome = self.check_now(&mut watch).await;
        Some(RulesReport { outcome, version: watch.version.clone(), rejected: watch.refused.is_some() })
    }

    async fn check_now(&self, watch: &mut Watch) -> ReloadOutcome {
        let location = &self.location;
        let fetched = match self.source.get(location, watch.rules_etag.as_deref(), ObjectKind::RulesFile).await {
            Ok(Some(object)) => Ok(object),
            Ok(None) => match self.lists_changed(&watch.lists).await {
                Ok(false) => return ReloadOutcome::Unchanged,
                Ok(true) => match self.source.get(location, None, ObjectKind::RulesFile).await.transpose() {
                    Some(read) => read,
                    None => return ReloadOutcome::Unchanged,
                },
                Err(e) => return self.unavailable(&e.to_string()),
            },
            Err(e) if e.is_retriable() => return self.unavailable(&e.to_string()),
            // Still unreadable, as it was at the last check: nothing new to say.
            Err(_) if watch.rules_etag.is_none() && watch.refused.is_some() => return ReloadOutcome::Unchanged,
            Err(e) => Err(e),
        };
        let tried = attempt(&self.source, location, Some(fetched)).await;
        match tried.outcome {
            Ok(set) => {
                let version = set.version().unwrap_or("no rules").to_string();
                tracing::info!(
                    uri = %location,
                    %version,
                    previous = watch.version.as_deref().unwrap_or("none"),
                    rules = set.rules().len(),
                    lists = ?set.list_names(),
                    list_files = %describe(&tried.lists),
                    "rules file accepted: the new version is in force"
                );
                self.active.replace(set);
                *watch = Watch {
                    next_check: watch.next_check,
                    rules_etag: tried.read.and_then(|(etag, _)| etag),
                    lists: tried.lists,
                    refused: None,
                    version: Some(version.clone()),
                };
                ReloadOutcome::Loaded { version }
            }
            Err(refusal) if refusal.retriable => self.unavailable(&refusal.reason),
            Err(refusal) => {
                let in_force = watch.version.as_deref().unwrap_or("none");
                let missing = tried.read.is_none();
                if missing {
                    tracing::error!(uri = %location, reason = %refusal.reason, in_force, "rules file unreadable: keeping the last good rules; upload it again, or deploy without RulesKey to stop using rules");
                } else {
                    tracing::error!(uri = %location, reason = %refusal.reason, in_force, "rules file rejected: keeping the last good rules; fix the file and upload it again");
                }
                watch.rules_etag = tried.read.and_then(|(etag, _)| etag);
                watch.lists = tried.lists;
                watch.refused = Some(refusal.reason.clone());
                if missing {
                    ReloadOutcome::Missing { reason: refusal.reason }
                } else {
                    ReloadOutcome::Refused { reason: refusal.reason }
                }
            }
        }
    }

    /// True when a list file of the version last seen changed, appeared or disappeared.
    async fn lists_changed(&self, lists: &[ListRead]) -> Result<bool, ConfigObjectError> {
        for list in lists {
            let changed =
                match (self.source.get(&list.location, list.etag.as_deref(), ObjectKind::ListFile).await, &list.etag) {
                    (Ok(None), _) => false,
                    (Ok(Some(_)), _) => true,
                    (Err(e), _) if e.is_retriable() => return Err(e),
                    // Unreadable: a change when it was readable before.
                    (Err(_), etag) => etag.is_some(),
                };
            if changed {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn unavailable(&self, reason: &str) -> ReloadOutcome {
        tracing::warn!(uri = %self.location, reason, "rules file not checked: S3 did not answer; keeping the rules in force until the next check");
        ReloadOutcome::Unavailable { reason: reason.to_string() }
    }
}

/// At start, after the latest version was refused: the newest earlier version that compiles.
async fn earlier_good_version(
    source: &Arc<dyn RulesSource>,
    location: &ObjectLocation,
    latest_version: Option<&str>,
    latest: &Refusal,
) -> Result<RuleSet, RulesInitError> {
    let no_good_version = |why: String| {
        RulesInitError(format!(
            "no usable version of the rules file: {}; {why}. Fix the file and upload it again (`roamguard rules check FILE` checks it first), or deploy without RulesKey to decide without rules",
            latest.reason
        ))
    };
    let versions = source
        .versions(location, EARLIER_VERSIONS + 1)
        .await
        .map_err(|e| no_good_version(format!("earlier versions could not be listed: {e}")))?;
    let earlier: Vec<String> =
        versions.into_iter().filter(|v| Some(v.as_str()) != latest_version).take(EARLIER_VERSIONS).collect();
    if earlier.is_empty() {
        return Err(no_good_version("and it has no earlier version".into()));
    }
    for version in &earlier {
        let at = location.clone().at_version(Some(version.clone()));
        let read = source.get(&at, None, ObjectKind::RulesFile).await.transpose();
        match attempt(source, &at, read).await.outcome {
            Ok(set) => return Ok(set),
            Err(refusal) if refusal.retriable => {
                return Err(RulesInitError(format!(
                    "cannot start without the rules file: {}; {} (the next invocation starts the function again)",
                    latest.reason, refusal.reason
                )));
            }
            Err(refusal) => {
                tracing::warn!(uri = %at, reason = %refusal.reason, "earlier rules file version refused too");
            }
        }
    }
    Err(no_good_version(format!("none of its {} earlier versions compiles either", earlier.len())))
}

/// Compiles the rules file as read (`None`: a 304 to an unconditional read, which S3 does not
/// send), reading its list files.
async fn attempt(
    source: &Arc<dyn RulesSource>,
    location: &ObjectLocation,
    read: Option<Result<ConfigObject, ConfigObjectError>>,
) -> Attempt {
    let object = match read {
        Some(Ok(object)) => object,
        Some(Err(e)) => {
            let reason = e.to_string();
            return Attempt {
                read: None,
                lists: Vec::new(),
                outcome: Err(Refusal { reason, retriable: e.is_retriable() }),
            };
        }
        None => {
            let reason = format!("{location}: S3 answered 304 Not Modified to an unconditional read");
            return Attempt { read: None, lists: Vec::new(), outcome: Err(Refusal { reason, retriable: true }) };
        }
    };
    let read = Some((object.etag.clone(), object.version_id.clone()));
    let refused = |reason: String, retriable| Attempt {
        read: read.clone(),
        lists: Vec::new(),
        outcome: Err(Refusal { reason, retriable }),
    };
    let Ok(yaml) = String::from_utf8(object.bytes) else {
        return refused(format!("{location}: not UTF-8 text: upload the rules file as YAML"), false);
    };
    let (compiled, lists, retriable) = match compile(source.clone(), location.clone(), yaml).await {
        Ok(done) => done,
        Err(reason) => return refused(format!("{location}: {reason}"), false),
    };
    let outcome = match compiled {
        Ok(set) => Ok(set.with_version(set_version(&object.version_id, &object.etag, &lists))),
        Err(e) => {
            Err(Refusal { reason: format!("{location}: {}: {}", redact_numbers(&e.to_string()), fix(&e)), retriable })
        }
    };
    Attempt { read, lists, outcome }
}

/// What to do about a refused rules file.
fn fix(e: &RulesError) -> &'static str {
    match e {
        RulesError::List { .. } => {
            "upload the list file next to the rules file (its path is relative to the rules file's directory) or fix its entries, then upload the rules file again"
        }
        _ => "fix it (`roamguard rules check FILE` names what is wrong before an upload) and upload it again",
    }
}

/// Compiles `yaml` on a thread of its own (deep stack), reading each list file from `source` as
/// the compiler asks for it. Returns the compilation, the list files read, and whether a list
/// read failed because S3 did not answer.
async fn compile(
    source: Arc<dyn RulesSource>,
    location: ObjectLocation,
    yaml: String,
) -> Result<(Result<RuleSet, RulesError>, Vec<ListRead>, bool), String> {
    let runtime = tokio::runtime::Handle::current();
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("rules-compile".into())
        .stack_size(COMPILE_STACK)
        .spawn(move || {
            let mut lists = Vec::new();
            let mut retriable = false;
            let compiled = RuleSet::compile(&yaml, |path| {
                let at = list_location(&location, path)?;
                let read = runtime.block_on(source.get(&at, None, ObjectKind::ListFile));
                let (text, etag, version_id) = match read {
                    Ok(Some(object)) => {
                        let text = String::from_utf8(object.bytes).map_err(|_| format!("{at}: not UTF-8 text"));
                        (text, object.etag, object.version_id)
                    }
                    Ok(None) => (Err(format!("{at}: S3 answered 304 to an unconditional read")), None, None),
                    Err(e) => {
                        retriable |= e.is_retriable();
                        (Err(e.to_string()), None, None)
                    }
                };
                lists.push(ListRead { location: at, etag: if text.is_ok() { etag } else { None }, version_id });
                text
            });
            let _ = done.send((compiled, lists, retriable));
        })
        .map_err(|e| format!("cannot start the thread that compiles the rules: {e}"))?;
    result.await.map_err(|_| "compiling the rules failed unexpectedly (the compiler panicked): check the file with `roamguard rules check FILE`".to_string())
}

/// The list files read, as `key@version` (the ETag in an unversioned bucket), for the logs.
fn describe(lists: &[ListRead]) -> String {
    let read = |l: &ListRead| {
        let version = l.version_id.as_deref().filter(|v| *v != "null").or(l.etag.as_deref()).unwrap_or("unread");
        format!("{}@{}", l.location.key, version.trim_matches('"'))
    };
    lists.iter().map(read).collect::<Vec<_>>().join(", ")
}

/// The version verdicts carry: the rules file's S3 version id (its ETag in an unversioned
/// bucket), and with list files `+lists.<16 hex>`, a hash of their paths and versions.
fn set_version(version_id: &Option<String>, etag: &Option<String>, lists: &[ListRead]) -> String {
    let file = version_id
        .clone()
        .filter(|v| v != "null")
        .or_else(|| etag.as_ref().map(|e| e.trim_matches('"').to_string()))
        .unwrap_or_else(|| "unversioned".into());
    if lists.is_empty() {
        return file;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for list in lists {
        let version = list.version_id.as_deref().filter(|v| *v != "null").or(list.etag.as_deref()).unwrap_or("");
        for byte in list.location.key.bytes().chain([0]).chain(version.bytes()).chain([0]) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{file}+lists.{hash:016x}")
}

/// `text` with every run of 8 or more digits redacted (an IMSI or MSISDN written in a rule or a
/// list must not reach the logs).
pub fn redact_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() >= 8 {
            out.push_str(&crate::redact(digits));
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

#[cfg(test)]
mod tests;
