//! Rules and lists that fraud analysts own: a YAML file of named lists and CEL rules applied
//! after the model, in order; the first rule whose `when` is true decides (docs/rules.md).
//!
//! A rule set is compiled once per (re)load, never per event: every expression is parsed,
//! checked against the variables it may use (`event`, `profile`, `features`, `score`,
//! `model_decision`, `lists`), and lists become hash sets (`x in lists.name` is a lookup) with a
//! prefix index for the `lists.name.exists(p, event.field.startsWith(p))` form. A set that does
//! not compile is refused as a whole, naming the rule at fault: callers keep the last good one.
//! A rule whose evaluation fails on an event (a null in a comparison, a type mismatch) does not
//! match; failures are counted per rule and logged at most once a minute per rule.

mod check;
mod prefix;
mod values;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use cel::common::value::CowVal;
use cel::context::VariableResolver;
use cel::{Context, Env, Program, Value};
use serde::Deserialize;

use crate::events::RoamingEvent;
use crate::features::FeatureVector;
use crate::profile::SubscriberProfile;
use crate::verdict::Decision;

pub use check::Needs;

/// What a rule sees of one scored event.
pub struct RuleInput<'a> {
    pub event: &'a RoamingEvent,
    /// None: an unknown subscriber (`profile` is null).
    pub profile: Option<&'a SubscriberProfile>,
    pub features: &'a FeatureVector,
    /// The model's probability.
    pub score: f32,
    /// The decision from the thresholds (escalation included).
    pub model_decision: Decision,
}

/// The rules' verdict on one event.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOutcome {
    /// The first matching rule: its id and decision. None: the model decides.
    pub decided_by: Option<(String, Decision)>,
    /// Every rule that matched, in file order (for audit).
    pub matched: Vec<String>,
    /// Rules whose evaluation failed on this event (they did not match).
    pub failed: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RulesError {
    #[error("the rules file is not valid YAML of the expected shape: {0}")]
    Format(String),
    #[error("rule id {0:?} is not made of a-z, 0-9 and '-'")]
    BadId(String),
    #[error("rule id {0:?} is used twice")]
    DuplicateId(String),
    #[error("rule {rule}: `when` does not compile: {message}")]
    Compile { rule: String, message: String },
    #[error("rule {rule}: {message}")]
    Check { rule: String, message: String },
    #[error("list {list}: {message}")]
    List { list: String, message: String },
}

/// The rules file as written (the exact contract in docs/rules.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    lists: BTreeMap<String, ListSource>,
    #[serde(default)]
    rules: Vec<RuleSource>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ListSource {
    Inline(Vec<serde_yaml_ng::Value>),
    File { file: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSource {
    id: String,
    when: String,
    then: Then,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
enum Then {
    #[serde(rename = "ALLOW")]
    Allow,
    #[serde(rename = "REVIEW")]
    Review,
    #[serde(rename = "BLOCK")]
    Block,
}

impl From<Then> for Decision {
    fn from(t: Then) -> Decision {
        match t {
            Then::Allow => Decision::Allow,
            Then::Review => Decision::Review,
            Then::Block => Decision::Block,
        }
    }
}

/// One compiled rule.
pub struct Rule {
    pub id: String,
    pub then: Decision,
    pub description: Option<String>,
    pub when: String,
    program: Program,
    needs: Needs,
    /// `lists.X.exists(p, event.F.startsWith(p))` parts, served by the prefix index: the
    /// variable standing for each, its list and event field.
    prefixes: Vec<(String, String, String)>,
    failures: AtomicU64,
    last_logged: AtomicI64,
}

/// A compiled rules file: what the pipeline applies after the model.
pub struct RuleSet {
    rules: Vec<Rule>,
    /// What the rules read, all together: built once per event.
    plan: values::Plan,
    lists: Lists,
    env: Arc<Env>,
    version: Option<String>,
}

/// The named lists, built once: as CEL maps (membership is a key lookup) and as prefix indexes.
struct Lists {
    names: Vec<String>,
    /// Distinct entries of each list, in `names` order.
    sizes: Vec<usize>,
    /// `lists` as one CEL map of maps, converted once (a resolver lends it to every evaluation).
    value: Box<dyn cel::common::value::Val>,
    prefixes: BTreeMap<String, prefix::PrefixIndex>,
}

impl VariableResolver for Lists {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        (variable == "lists").then(|| CowVal::Borrowed(&*self.value))
    }
}

impl RuleSet {
    /// No rules: every decision is the model's.
    pub fn empty() -> RuleSet {
        RuleSet {
            rules: Vec::new(),
            plan: values::Plan::default(),
            lists: Lists::build(BTreeMap::new()),
            env: Arc::new(Env::stdlib()),
            version: None,
        }
    }

    /// Compiles a rules file. `read_list` reads a `{file: ...}` list (the path as written,
    /// relative to the rules file: the caller resolves it). The version is a hash of the file
    /// and its list files unless [`RuleSet::with_version`] names another (an S3 object version).
    pub fn compile(
        yaml: &str,
        mut read_list: impl FnMut(&str) -> Result<String, String>,
    ) -> Result<RuleSet, RulesError> {
        let file: RulesFile = if yaml.trim().is_empty() {
            RulesFile { lists: BTreeMap::new(), rules: Vec::new() }
        } else {
            serde_yaml_ng::from_str(yaml).map_err(|e| RulesError::Format(e.to_string()))?
        };
        let mut hash = crate::state::stable_hash(yaml);
        let mut entries = BTreeMap::new();
        for (name, source) in file.lists {
            check::list_name(&name)?;
            let values = match source {
                ListSource::Inline(values) => values.iter().map(|v| scalar(&name, v)).collect::<Result<_, _>>()?,
                ListSource::File { file } => {
                    let text = read_list(&file)
                        .map_err(|e| RulesError::List { list: name.clone(), message: format!("{file}: {e}") })?;
                    hash = hash.rotate_left(5) ^ crate::state::stable_hash(&text);
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(String::from)
                        .collect()
                }
            };
            entries.insert(name, values);
        }
        let lists = Lists::build(entries);
        let mut seen = HashSet::new();
        let mut rules = Vec::with_capacity(file.rules.len());
        for source in file.rules {
            if !check::valid_id(&source.id) {
                return Err(RulesError::BadId(source.id));
            }
            if !seen.insert(source.id.clone()) {
                return Err(RulesError::DuplicateId(source.id));
            }
            rules.push(Rule::compile(source, rules.len(), &lists)?);
        }
        let version = Some(format!("rules-{hash:016x}"));
        let mut needs = Needs::default();
        rules.iter().for_each(|r: &Rule| needs.merge(&r.needs));
        Ok(RuleSet { rules, plan: values::Plan::of(&needs), lists, env: Arc::new(Env::stdlib()), version })
    }

    /// Names the version verdicts carry (e.g. the S3 object version of the file).
    pub fn with_version(mut self, version: impl Into<String>) -> RuleSet {
        self.version = Some(version.into());
        self
    }

    /// The version verdicts carry; None without rules.
    pub fn version(&self) -> Option<&str> {
        if self.rules.is_empty() { None } else { self.version.as_deref() }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn list_names(&self) -> &[String] {
        &self.lists.names
    }

    /// Each list with its number of distinct entries.
    pub fn list_sizes(&self) -> Vec<(&str, usize)> {
        self.lists.names.iter().map(String::as_str).zip(self.lists.sizes.iter().copied()).collect()
    }

    /// Evaluation failures per rule id since the set was compiled.
    pub fn failures(&self) -> Vec<(&str, u64)> {
        self.rules.iter().map(|r| (r.id.as_str(), r.failures.load(Ordering::Relaxed))).collect()
    }

    /// Every rule on one event, in order.
    pub fn evaluate(&self, input: &RuleInput<'_>) -> RuleOutcome {
        let mut outcome = RuleOutcome { decided_by: None, matched: Vec::new(), failed: 0 };
        if self.rules.is_empty() {
            return outcome;
        }
        let mut context = Context::with_env(self.env.clone());
        context.set_variable_resolver(&self.lists);
        values::bind(&mut context, input, &self.plan);
        for rule in &self.rules {
            for (variable, list, field) in &rule.prefixes {
                let hit = values::event_str(input.event, field)
                    .is_some_and(|v| self.lists.prefixes.get(list).is_some_and(|p| p.matches(v)));
                context.add_variable_as_val(variable.clone(), Box::new(cel::common::types::CelBool::from(hit)));
            }
            match rule.program.execute(&context) {
                Ok(Value::Bool(true)) => {
                    if outcome.decided_by.is_none() {
                        outcome.decided_by = Some((rule.id.clone(), rule.then));
                    }
                    outcome.matched.push(rule.id.clone());
                }
                Ok(Value::Bool(false)) => {}
                Ok(other) => rule.failed(&format!("`when` gave {other:?}, not a boolean"), &mut outcome),
                Err(e) => rule.failed(&e.to_string(), &mut outcome),
            }
        }
        outcome
    }
}

impl Rule {
    fn compile(source: RuleSource, index: usize, lists: &Lists) -> Result<Rule, RulesError> {
        let compile_error = |message: String| RulesError::Compile { rule: source.id.clone(), message };
        // The expression as written must compile and pass the checks on its own...
        let written = compile(&source.when).map_err(compile_error)?;
        let needs = check::check(&written, &lists.names)
            .map_err(|message| RulesError::Check { rule: source.id.clone(), message })?;
        // ...then scans of prefix lists become variables the prefix index computes.
        let (rewritten, found) = prefix::rewrite(&source.when, index);
        let program = if found.is_empty() { written } else { compile(&rewritten).map_err(compile_error)? };
        let prefixes =
            found.into_iter().enumerate().map(|(n, (list, field))| (prefix::variable(index, n), list, field)).collect();
        Ok(Rule {
            then: source.then.into(),
            description: source.description,
            program,
            needs,
            prefixes,
            failures: AtomicU64::new(0),
            last_logged: AtomicI64::new(i64::MIN),
            when: source.when,
            id: source.id,
        })
    }

    fn failed(&self, error: &str, outcome: &mut RuleOutcome) {
        outcome.failed += 1;
        let count = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let now = chrono::Utc::now().timestamp();
        let last = self.last_logged.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 60
            && self.last_logged.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            tracing::warn!(rule = %self.id, failures = count, error, "rule evaluation failed: the rule did not match");
        }
    }
}

fn compile(source: &str) -> Result<Program, String> {
    // The parser can recurse deeply on hostile input; rules are compiled at (re)load only.
    Program::compile(source).map_err(|e| e.to_string())
}

/// A list entry as a string (numbers written without quotes are accepted).
fn scalar(list: &str, v: &serde_yaml_ng::Value) -> Result<String, RulesError> {
    match v {
        serde_yaml_ng::Value::String(s) => Ok(s.clone()),
        serde_yaml_ng::Value::Number(n) => Ok(n.to_string()),
        serde_yaml_ng::Value::Bool(b) => Ok(b.to_string()),
        _ => Err(RulesError::List { list: list.to_string(), message: format!("entries must be strings, not {v:?}") }),
    }
}

impl Lists {
    fn build(entries: BTreeMap<String, Vec<String>>) -> Lists {
        let mut outer = std::collections::HashMap::new();
        let mut prefixes = BTreeMap::new();
        for (name, values) in &entries {
            let set: std::collections::HashMap<cel::objects::Key, Value> =
                values.iter().map(|v| (cel::objects::Key::String(Arc::new(v.clone())), Value::Bool(true))).collect();
            outer.insert(
                cel::objects::Key::String(Arc::new(name.clone())),
                Value::Map(cel::objects::Map { map: Arc::new(set) }),
            );
            prefixes.insert(name.clone(), prefix::PrefixIndex::new(values));
        }
        let value = Value::Map(cel::objects::Map { map: Arc::new(outer) });
        // A map of strings and booleans always converts.
        let value = value
            .try_into()
            .unwrap_or_else(|_| Box::new(cel::common::types::CelNull) as Box<dyn cel::common::value::Val>);
        let sizes = prefixes.values().map(prefix::PrefixIndex::len).collect();
        Lists { names: entries.into_keys().collect(), sizes, value, prefixes }
    }
}

/// The rule set in force, replaced whole on a reload (a scoring batch keeps the set it started
/// with).
pub struct ActiveRules {
    current: RwLock<Arc<RuleSet>>,
}

impl ActiveRules {
    pub fn new(rules: RuleSet) -> ActiveRules {
        ActiveRules { current: RwLock::new(Arc::new(rules)) }
    }

    pub fn get(&self) -> Arc<RuleSet> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn replace(&self, rules: RuleSet) {
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(rules);
    }
}

impl Default for ActiveRules {
    fn default() -> Self {
        ActiveRules::new(RuleSet::empty())
    }
}
