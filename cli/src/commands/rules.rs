//! Analysts' rules (docs/rules.md): reading a rules file for `--rules`, the `rules check` and
//! `rules test` commands, and the watcher behind `serve`'s hot reload.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use roamguard::labels::Label;
use roamguard::pipeline::Pipeline;
use roamguard::rules::{ActiveRules, RuleSet};
use roamguard::verdict::{Decision, Verdict};

use super::jsonl;
use super::ports;
use super::score::{self, ModelArgs};

/// Check or try out a rules file (analysts' CEL rules and lists; see docs/rules.md).
///
///   rules check FILE                              compile every rule: exit 0 with a summary, or
///                                                 non-zero naming the rule (or list) at fault
///   rules test FILE --profiles P --events E       replay events with and without the rules: what
///              [--labels L]                       each rule would decide, which decisions change
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    Check(CheckArgs),
    Test(TestArgs),
}

/// Compile a rules file: YAML shape, rule ids (unique, [a-z0-9-]+), every `when` expression,
/// the variables, event/profile fields, features and lists each one uses, and the list files.
/// Prints a short summary and exits 0, or exits non-zero naming the rule (or list) at fault.
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
struct CheckArgs {
    /// The rules file (YAML); `{file: ...}` lists are read relative to its directory.
    file: PathBuf,
}

/// Before deploying a rules file: replay events through the same pipeline as `score`, once with
/// the model alone and once with the rules, and show
///   - per rule, in file order: the events it matched, those it decided (it was the first
///     matching rule) and those whose decision it changed;
///   - the decisions with and without the rules, and every change (e.g. ALLOW → BLOCK);
///   - with --labels, the legitimate and fraud events behind each change.
///
/// Nothing is written.
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
struct TestArgs {
    /// The rules file (YAML).
    file: PathBuf,
    /// Subscriber profiles (JSON Lines, SubscriberProfile v1).
    #[arg(long)]
    profiles: PathBuf,
    /// Events (JSON Lines, RoamingEvent v1), in arrival order.
    #[arg(long)]
    events: PathBuf,
    /// Labels (JSON Lines, Label v1: {"event_id", "fraud", "fraud_type"?}); events without one
    /// count as legitimate.
    #[arg(long)]
    labels: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Check(args) => check(&args),
        Command::Test(args) => test(&args),
    }
}

/// Reads and compiles the rules file `path` (list files relative to its directory). The error
/// names the file and the rule or list at fault.
pub fn load(path: &Path) -> anyhow::Result<RuleSet> {
    read(path).result.with_context(|| format!("rules file {}", path.display()))
}

/// The rules in force for `--rules`: the file's, or none (the model decides).
pub fn active(path: Option<&Path>) -> anyhow::Result<Arc<ActiveRules>> {
    Ok(Arc::new(ActiveRules::new(match path {
        Some(path) => load(path)?,
        None => RuleSet::empty(),
    })))
}

/// One line about a compiled set: rules and version.
pub fn describe(rules: &RuleSet) -> String {
    let n = rules.rules().len();
    match rules.version() {
        Some(version) => format!("{n} rule{}, version {version}", plural(n)),
        None => "no rules (the model decides)".to_string(),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One read of a rules file and of the list files it names.
struct Read {
    /// Of the rules file and each list file read, in order (a file that cannot be read counts
    /// as its error).
    fingerprint: u64,
    /// The list files compiling asked for, resolved, in the order asked.
    list_files: Vec<PathBuf>,
    /// The set, or why not (the rules error naming the rule or list, or the rules file's read
    /// error), without the file's name: the caller names it.
    result: anyhow::Result<RuleSet>,
}

fn read(path: &Path) -> Read {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut hasher = DefaultHasher::new();
    let text = std::fs::read_to_string(path);
    hash_read(&mut hasher, &text);
    let mut list_files = Vec::new();
    let result = match text {
        Err(e) => Err(anyhow::Error::new(e)),
        Ok(text) => RuleSet::compile(&text, |written| {
            let file = dir.join(written);
            let read = std::fs::read_to_string(&file);
            hash_read(&mut hasher, &read);
            list_files.push(file.clone());
            let text = read.map_err(|e| {
                if file == Path::new(written) { e.to_string() } else { format!("{e} (looked for {})", file.display()) }
            })?;
            Ok(text)
        })
        .map_err(anyhow::Error::new),
    };
    Read { fingerprint: hasher.finish(), list_files, result }
}

fn hash_read(hasher: &mut impl Hasher, read: &std::io::Result<String>) {
    match read {
        Ok(text) => (0u8, text).hash(hasher),
        Err(e) => (1u8, e.kind().to_string()).hash(hasher),
    }
}

/// The fingerprint `read` would compute now, reading the same list files.
fn fingerprint_now(path: &Path, list_files: &[PathBuf]) -> u64 {
    let mut hasher = DefaultHasher::new();
    hash_read(&mut hasher, &std::fs::read_to_string(path));
    for file in list_files {
        hash_read(&mut hasher, &std::fs::read_to_string(file));
    }
    hasher.finish()
}

fn check(args: &CheckArgs) -> anyhow::Result<()> {
    let read = read(&args.file);
    let rules = read.result.with_context(|| format!("rules file {}", args.file.display()))?;
    println!("OK {}: {}", args.file.display(), describe(&rules));
    let lists = rules.list_sizes();
    if lists.is_empty() {
        println!("  lists: none");
    } else {
        let sizes: Vec<String> = lists.iter().map(|(name, n)| format!("{name} ({n})")).collect();
        println!("  lists ({}, distinct entries): {}", lists.len(), sizes.join(", "));
    }
    if !rules.is_empty() {
        println!("  rules, in order (the first whose `when` is true decides):");
        let width = rules.rules().iter().map(|r| r.id.len()).max().unwrap_or(0);
        for (i, rule) in rules.rules().iter().enumerate() {
            let description = rule.description.as_deref().map(|d| format!("  {d}")).unwrap_or_default();
            let line = format!("  {:>3}. {:<width$}  {:<6}{description}", i + 1, rule.id, rule.then.as_str());
            println!("{}", line.trim_end());
        }
    }
    Ok(())
}

/// What `rules test` counts.
#[derive(Default)]
struct WhatIf {
    events: usize,
    /// Per rule id: matched, decided, changed, and of the decided: legitimate, fraud.
    per_rule: HashMap<String, RuleCounts>,
    without: BTreeMap<Decision, usize>,
    with: BTreeMap<Decision, usize>,
    /// (model alone, with rules) → events, legitimate, fraud.
    changes: BTreeMap<(Decision, Decision), Split>,
}

#[derive(Default, Clone, Copy)]
struct RuleCounts {
    matched: usize,
    decided: usize,
    changed: usize,
    decided_split: Split,
}

#[derive(Default, Clone, Copy)]
struct Split {
    events: usize,
    legitimate: usize,
    fraud: usize,
}

impl Split {
    fn add(&mut self, fraud: bool) {
        self.events += 1;
        if fraud {
            self.fraud += 1;
        } else {
            self.legitimate += 1;
        }
    }
}

/// The first verdict of each event_id (a repeated event gets its stored verdict back).
fn first_per_event(verdicts: Vec<Verdict>) -> Vec<Verdict> {
    let mut seen = HashSet::new();
    verdicts.into_iter().filter(|v| seen.insert(v.event_id.clone())).collect()
}

impl WhatIf {
    fn of(
        model_alone: &[Verdict],
        with_rules: &[Verdict],
        labels: Option<&HashMap<String, Label>>,
    ) -> anyhow::Result<WhatIf> {
        let model: HashMap<&str, Decision> = model_alone.iter().map(|v| (v.event_id.as_str(), v.decision)).collect();
        let mut what = WhatIf::default();
        for v in with_rules {
            let Some(&before) = model.get(v.event_id.as_str()) else {
                anyhow::bail!("event {} was scored with the rules but not without them", v.event_id);
            };
            let fraud = labels.and_then(|l| l.get(&v.event_id)).is_some_and(|l| l.fraud);
            what.events += 1;
            *what.without.entry(before).or_default() += 1;
            *what.with.entry(v.decision).or_default() += 1;
            for id in &v.rules_matched {
                what.per_rule.entry(id.clone()).or_default().matched += 1;
            }
            if let Some(id) = v.decided_by.strip_prefix("rule:") {
                let counts = what.per_rule.entry(id.to_string()).or_default();
                counts.decided += 1;
                counts.changed += usize::from(v.decision != before);
                counts.decided_split.add(fraud);
            }
            if v.decision != before {
                what.changes.entry((before, v.decision)).or_default().add(fraud);
            }
        }
        anyhow::ensure!(
            what.events == model.len(),
            "{} events were scored without the rules, {} with them",
            model.len(),
            what.events
        );
        Ok(what)
    }

    fn text(&self, rules: &RuleSet, labelled: bool) -> String {
        let mut out = String::new();
        let n = self.events;
        let pct = |k: usize| if n == 0 { 0.0 } else { k as f64 * 100.0 / n as f64 };
        let width = rules.rules().iter().map(|r| r.id.len()).chain([4]).max().unwrap_or(4);
        let _ = writeln!(out, "Per rule, in file order (the first rule whose `when` is true decides):");
        let _ =
            write!(out, "  {:<width$}  {:<6}  {:>8}  {:>8}  {:>8}", "rule", "then", "matched", "decided", "changed");
        if labelled {
            let _ = write!(out, "  {:>11}  {:>8}", "legitimate", "fraud");
        }
        out.push('\n');
        let failures: HashMap<&str, u64> = rules.failures().into_iter().collect();
        for rule in rules.rules() {
            let c = self.per_rule.get(&rule.id).copied().unwrap_or_default();
            let _ = write!(
                out,
                "  {:<width$}  {:<6}  {:>8}  {:>8}  {:>8}",
                rule.id,
                rule.then.as_str(),
                c.matched,
                c.decided,
                c.changed
            );
            if labelled {
                let _ = write!(out, "  {:>11}  {:>8}", c.decided_split.legitimate, c.decided_split.fraud);
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "  matched: the rule's `when` was true; decided: it was the first such rule; changed: its decision differs from the model's{}",
            if labelled { "; legitimate/fraud: of the events it decided" } else { "" }
        );
        let failing: Vec<String> = rules
            .rules()
            .iter()
            .filter_map(|r| failures.get(r.id.as_str()).filter(|n| **n > 0).map(|n| format!("{} {n}", r.id)))
            .collect();
        if !failing.is_empty() {
            let _ = writeln!(
                out,
                "  evaluation failures (a null or absent value, a type mismatch: the rule did not match): {}",
                failing.join(", ")
            );
        }
        out.push('\n');
        let _ = writeln!(out, "Decisions:      model alone   with rules   difference");
        for d in Decision::ALL {
            let (a, b) = (self.without.get(&d).copied().unwrap_or(0), self.with.get(&d).copied().unwrap_or(0));
            let _ = writeln!(out, "  {:<8} {:>15} {:>12} {:>+12}", d.as_str(), a, b, b as i64 - a as i64);
        }
        out.push('\n');
        let changed: usize = self.changes.values().map(|s| s.events).sum();
        if changed == 0 {
            let _ = writeln!(out, "No decision changes: with these rules every event gets the model's decision.");
            return out;
        }
        let _ = writeln!(out, "Decisions changed by the rules: {changed} of {n} events ({:.2} %)", pct(changed));
        let _ = write!(out, "  {:<24} {:>8}", "model alone → with rules", "events");
        if labelled {
            let _ = write!(out, "  {:>11}  {:>8}", "legitimate", "fraud");
        }
        out.push('\n');
        for ((from, to), split) in &self.changes {
            let _ = write!(out, "  {:<24} {:>8}", format!("{} → {}", from.as_str(), to.as_str()), split.events);
            if labelled {
                let _ = write!(out, "  {:>11}  {:>8}", split.legitimate, split.fraud);
            }
            out.push('\n');
        }
        out
    }
}

fn test(args: &TestArgs) -> anyhow::Result<()> {
    let rules = load(&args.file)?;
    let labels = match &args.labels {
        Some(path) => Some(jsonl::read_labels(path)?),
        None => None,
    };
    let model = args.model.load()?;
    let profiles = jsonl::read_profiles(&args.profiles)?;
    let t = model.thresholds();
    println!("Rules {}: {}", args.file.display(), describe(&rules));
    println!("Model {} (REVIEW at score ≥ {:.4}, BLOCK at ≥ {:.4})", model.version(), t.review, t.block);

    let active = Arc::new(ActiveRules::new(rules));
    let started = Instant::now();
    // Twice through the same pipeline as `score`, each with a live state of its own: the model
    // alone, then with the rules. Nothing is written anywhere.
    let replay = |rules: Option<Arc<ActiveRules>>| -> anyhow::Result<score::RunStats> {
        let ports = ports::replay_ports(model.clone(), profiles.clone(), score::VERDICTS_IN_MEMORY)?;
        let mut pipeline = Pipeline::new(model.clone(), ports).with_mode(args.model.mode);
        if let Some(rules) = rules {
            pipeline = pipeline.with_rules(rules);
        }
        let stats = score::run_file(&pipeline, &args.events, 500, score::default_threads(), true)?;
        anyhow::ensure!(stats.counts.retries == 0, "{} records could not be scored", stats.counts.retries);
        Ok(stats)
    };
    let without = replay(None)?;
    let with = replay(Some(active.clone()))?;
    let what = WhatIf::of(&first_per_event(without.verdicts), &first_per_event(with.verdicts), labels.as_ref())?;
    print!(
        "Replayed {} events of {} with the model alone and with the rules ({:.1} s)",
        what.events,
        args.events.display(),
        started.elapsed().as_secs_f64()
    );
    if with.counts.dead_letters > 0 {
        print!("; {} records could not be scored (invalid) and are left out", with.counts.dead_letters);
    }
    println!();
    if let Some(labels) = &labels {
        let fraud = labels.values().filter(|l| l.fraud).count();
        println!(
            "Labels: {} events labelled, {fraud} of them fraud; unlabelled events count as legitimate",
            labels.len()
        );
    }
    println!();
    print!("{}", what.text(&active.get(), labels.is_some()));
    Ok(())
}

/// A rules file that `serve` re-reads when it changes: the rules file and the list files it
/// names, by content.
pub struct Watched {
    path: PathBuf,
    list_files: Vec<PathBuf>,
    /// What the last read saw.
    fingerprint: u64,
    /// A change seen at the last poll, acted on when the next poll sees the same (so a file
    /// being written is not read half-way).
    pending: Option<u64>,
    removed: bool,
}

/// What a poll found.
pub enum Change {
    Loaded(Box<RuleSet>),
    Refused(anyhow::Error),
    Removed,
}

impl Watched {
    /// Reads and compiles the file: an error names the rule at fault (nothing to fall back on).
    pub fn open(path: &Path) -> anyhow::Result<(Watched, RuleSet)> {
        let read = read(path);
        let rules = read.result.with_context(|| format!("rules file {}", path.display()))?;
        let watched = Watched {
            path: path.to_path_buf(),
            list_files: read.list_files,
            fingerprint: read.fingerprint,
            pending: None,
            removed: false,
        };
        Ok((watched, rules))
    }

    /// Looks at the files once: None when nothing changed (or a change is not settled yet).
    pub fn poll(&mut self) -> Option<Change> {
        let now = fingerprint_now(&self.path, &self.list_files);
        if now == self.fingerprint {
            self.pending = None;
            return None;
        }
        if self.pending != Some(now) {
            self.pending = Some(now);
            return None;
        }
        self.pending = None;
        if !self.path.exists() {
            self.fingerprint = now;
            let first = !self.removed;
            self.removed = true;
            return first.then_some(Change::Removed);
        }
        self.removed = false;
        let read = read(&self.path);
        self.fingerprint = read.fingerprint;
        self.list_files = read.list_files;
        Some(match read.result {
            Ok(rules) => Change::Loaded(Box::new(rules)),
            Err(e) => Change::Refused(e),
        })
    }

    /// Polls every `every` on a thread of its own, replacing the rules in `active` with each good
    /// new version and logging on stderr: reloads, refusals (naming the rule; the last good
    /// version stays), a removed file (the last good version stays), and rules whose evaluation
    /// fails (at most once a minute per rule).
    pub fn watch(mut self, active: Arc<ActiveRules>, every: Duration) -> std::io::Result<()> {
        std::thread::Builder::new().name("rules-watch".into()).spawn(move || {
            let mut failures = FailureLog::default();
            loop {
                std::thread::sleep(every);
                let path = self.path.display().to_string();
                match self.poll() {
                    None => {}
                    Some(Change::Loaded(rules)) => {
                        eprintln!("rules reloaded from {path}: {}", describe(&rules));
                        active.replace(*rules);
                        failures = FailureLog::default();
                    }
                    Some(Change::Refused(e)) => {
                        // One log line (a CEL error spans lines: the expression and a caret).
                        let why = format!("{e:#}").lines().map(str::trim_end).collect::<Vec<_>>().join(" ");
                        eprintln!("rules: refused the new version of {path}, keeping {}: {why}", last_good(&active));
                    }
                    Some(Change::Removed) => {
                        eprintln!("rules: {path} was removed; keeping {} until it is back", last_good(&active));
                    }
                }
                for line in failures.due(&active.get(), Instant::now()) {
                    eprintln!("{line}");
                }
            }
        })?;
        Ok(())
    }
}

fn last_good(active: &ActiveRules) -> String {
    format!("the last good version ({})", describe(&active.get()))
}

/// Rules whose evaluation failed since the last line about them: logged at most once a minute
/// per rule.
#[derive(Default)]
struct FailureLog {
    logged: HashMap<String, (u64, Instant)>,
}

impl FailureLog {
    /// The lines to log now.
    fn due(&mut self, rules: &RuleSet, now: Instant) -> Vec<String> {
        let mut lines = Vec::new();
        for (id, count) in rules.failures() {
            let last = self.logged.get(id).copied();
            let due = last.is_none_or(|(n, at)| count > n && now.duration_since(at) >= Duration::from_secs(60));
            if count > 0 && due {
                let new = count - last.map_or(0, |(n, _)| n);
                lines.push(format!(
                    "rules: rule {id}: evaluation failed on {new} more event{} (a null or a type mismatch: the rule did not match); {count} in all",
                    plural(usize::try_from(new).unwrap_or(usize::MAX))
                ));
                self.logged.insert(id.to_string(), (count, now));
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("roamguard-cli-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const GOOD: &str =
        "lists:\n  vips: {file: vip.txt}\nrules:\n  - id: vip\n    when: event.imsi in lists.vips\n    then: ALLOW\n";

    /// Two polls: the first sees a change, the second acts on it once it is settled.
    fn settled(watched: &mut Watched) -> Option<Change> {
        assert!(watched.poll().is_none(), "a change is acted on at the next poll");
        watched.poll()
    }

    #[test]
    fn when_the_rules_or_a_list_file_change_should_reload_refuse_or_keep_the_last_good_version() {
        let dir = temp_dir("watch");
        let file = dir.join("rules.yaml");
        std::fs::write(&file, GOOD).unwrap();
        std::fs::write(dir.join("vip.txt"), "208150000000001\n").unwrap();
        let (mut watched, first) = Watched::open(&file).unwrap();
        let version = first.version().unwrap().to_string();
        assert!(watched.poll().is_none() && watched.poll().is_none(), "nothing changed");

        // A list file changes: the set is rebuilt (a new version).
        std::fs::write(dir.join("vip.txt"), "208150000000001\n208150000000002\n").unwrap();
        let Some(Change::Loaded(second)) = settled(&mut watched) else { panic!("reloaded") };
        assert_ne!(second.version().unwrap(), version);

        // A broken version is refused once, naming the rule.
        std::fs::write(&file, GOOD.replace("event.imsi in lists.vips", "event.imsi ==")).unwrap();
        let Some(Change::Refused(e)) = settled(&mut watched) else { panic!("refused") };
        assert!(format!("{e:#}").contains("rule vip"), "{e:#}");
        assert!(watched.poll().is_none() && watched.poll().is_none(), "refused once, not at every poll");

        // Removed: said once.
        std::fs::remove_file(&file).unwrap();
        assert!(matches!(settled(&mut watched), Some(Change::Removed)));
        assert!(watched.poll().is_none() && watched.poll().is_none());

        // Back, good.
        std::fs::write(&file, GOOD).unwrap();
        let Some(Change::Loaded(back)) = settled(&mut watched) else { panic!("reloaded") };
        assert_eq!(back.rules().len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn when_a_rule_keeps_failing_should_log_it_at_most_once_a_minute() {
        use roamguard::events::RoamingEvent;
        use roamguard::features::NUM_FEATURES;
        use roamguard::rules::RuleInput;
        let rules = RuleSet::compile(
            "rules:\n  - id: long-calls\n    when: event.duration_s > 600\n    then: REVIEW\n",
            |_| Err("no lists".into()),
        )
        .unwrap();
        let sms = RoamingEvent::from_json(
            br#"{"event_id":"s","event_time":"2026-06-01T12:00:00Z","imsi":"208150000000009","event_type":"sms_mo","visited_country":"ES","called_number":"33612345678"}"#,
        )
        .unwrap();
        let features = [f32::NAN; NUM_FEATURES];
        let fail = || {
            let input = RuleInput {
                event: &sms,
                profile: None,
                features: &features,
                score: 0.1,
                model_decision: Decision::Allow,
            };
            assert_eq!(rules.evaluate(&input).failed, 1);
        };
        let mut log = FailureLog::default();
        let t0 = Instant::now();
        assert!(log.due(&rules, t0).is_empty(), "no failure yet");
        fail();
        let lines = log.due(&rules, t0);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("rule long-calls") && lines[0].contains("on 1 more event ("), "{lines:?}");
        fail();
        fail();
        assert!(log.due(&rules, t0 + Duration::from_secs(59)).is_empty(), "once a minute");
        let lines = log.due(&rules, t0 + Duration::from_secs(60));
        assert!(
            lines.len() == 1 && lines[0].contains("on 2 more events") && lines[0].contains("3 in all"),
            "{lines:?}"
        );
        assert!(log.due(&rules, t0 + Duration::from_secs(200)).is_empty(), "nothing new");
    }
}
