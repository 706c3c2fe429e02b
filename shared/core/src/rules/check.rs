//! What a rule may use, checked on its compiled expression once per load: root variables, the
//! fields it selects on `event`, `profile` and `features`, and the lists it names. The same walk
//! tells evaluation which values to build per event (only those a rule reads).

use std::collections::BTreeSet;

use cel::Program;
use cel::common::ast::{EntryExpr, Expr, IdedExpr};

use super::RulesError;

pub const VARIABLES: [&str; 6] = ["event", "profile", "features", "score", "model_decision", "lists"];

/// RoamingEvent v1 fields a rule can read (absent optional fields are absent: `has()` tests them).
pub const EVENT_FIELDS: [&str; 13] = crate::events::FIELDS;

/// SubscriberProfile v1 fields.
pub const PROFILE_FIELDS: [&str; 9] = [
    "imsi",
    "home_country",
    "plan",
    "tenure_days",
    "usual_countries",
    "known_imeis",
    "avg_daily_voice_min",
    "avg_daily_sms",
    "avg_daily_data_mb",
];

/// The values the rules read: per variable, all of it or only the fields named.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Needs {
    pub event: Fields,
    pub profile: Fields,
    pub features: Fields,
    pub score: bool,
    pub model_decision: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub enum Fields {
    #[default]
    None,
    Some(BTreeSet<String>),
    All,
}

impl Fields {
    fn add(&mut self, field: Option<&str>) {
        match (field, &mut *self) {
            (_, Fields::All) => {}
            (None, _) => *self = Fields::All,
            (Some(f), Fields::Some(set)) => {
                set.insert(f.to_string());
            }
            (Some(f), Fields::None) => *self = Fields::Some(BTreeSet::from([f.to_string()])),
        }
    }

    pub fn merge(&mut self, other: &Fields) {
        match other {
            Fields::None => {}
            Fields::All => *self = Fields::All,
            Fields::Some(set) => set.iter().for_each(|f| self.add(Some(f))),
        }
    }

    pub fn wants(&self, field: &str) -> bool {
        match self {
            Fields::None => false,
            Fields::All => true,
            Fields::Some(set) => set.contains(field),
        }
    }

    pub fn any(&self) -> bool {
        !matches!(self, Fields::None)
    }
}

impl Needs {
    pub fn merge(&mut self, other: &Needs) {
        self.event.merge(&other.event);
        self.profile.merge(&other.profile);
        self.features.merge(&other.features);
        self.score |= other.score;
        self.model_decision |= other.model_decision;
    }
}

pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub fn list_name(name: &str) -> Result<(), RulesError> {
    let ok = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(RulesError::List { list: name.to_string(), message: "a list name is letters, digits and '_'".into() })
    }
}

/// Checks one compiled `when` against the variables, fields and lists that exist.
pub fn check(program: &Program, lists: &[String]) -> Result<Needs, String> {
    let mut walk = Walk { lists, bound: Vec::new(), needs: Needs::default() };
    walk.expr(program.expression())?;
    Ok(walk.needs)
}

struct Walk<'a> {
    lists: &'a [String],
    /// Comprehension variables in scope (`p` in `exists(p, ...)`).
    bound: Vec<String>,
    needs: Needs,
}

impl Walk<'_> {
    fn expr(&mut self, e: &IdedExpr) -> Result<(), String> {
        match &e.expr {
            Expr::Ident(name) => self.root(name, None),
            Expr::Select(select) => match &select.operand.expr {
                Expr::Ident(root) if !self.bound.contains(root) => self.root(root, Some(&select.field)),
                _ => self.expr(&select.operand),
            },
            Expr::Call(call) => {
                if let Some(target) = &call.target {
                    self.expr(target)?;
                }
                call.args.iter().try_for_each(|a| self.expr(a))
            }
            Expr::Comprehension(c) => {
                self.expr(&c.iter_range)?;
                self.expr(&c.accu_init)?;
                let scope = self.bound.len();
                self.bound.push(c.iter_var.clone());
                self.bound.extend(c.iter_var2.clone());
                self.bound.push(c.accu_var.clone());
                let inner = [&c.loop_cond, &c.loop_step, &c.result].into_iter().try_for_each(|x| self.expr(x));
                self.bound.truncate(scope);
                inner
            }
            Expr::List(list) => list.elements.iter().try_for_each(|x| self.expr(x)),
            Expr::Map(map) => map.entries.iter().try_for_each(|entry| self.entry(&entry.expr)),
            Expr::Struct(s) => s.entries.iter().try_for_each(|entry| self.entry(&entry.expr)),
            Expr::Literal(_) | Expr::Unspecified => Ok(()),
        }
    }

    fn entry(&mut self, entry: &EntryExpr) -> Result<(), String> {
        match entry {
            EntryExpr::StructField(f) => self.expr(&f.value),
            EntryExpr::MapEntry(m) => {
                self.expr(&m.key)?;
                self.expr(&m.value)
            }
        }
    }

    /// A root variable, with the field selected on it (None: used whole).
    fn root(&mut self, name: &str, field: Option<&str>) -> Result<(), String> {
        if self.bound.iter().any(|b| b == name) || name.starts_with('@') {
            return Ok(());
        }
        let unknown =
            |what: &str, f: &str, known: &[&str]| format!("{what} {f:?} does not exist (known: {})", known.join(", "));
        match name {
            "event" => {
                if let Some(f) = field.filter(|f| !EVENT_FIELDS.contains(f)) {
                    return Err(unknown("event field", f, &EVENT_FIELDS));
                }
                self.needs.event.add(field);
            }
            "profile" => {
                if let Some(f) = field.filter(|f| !PROFILE_FIELDS.contains(f)) {
                    return Err(unknown("profile field", f, &PROFILE_FIELDS));
                }
                self.needs.profile.add(field);
            }
            "features" => {
                if let Some(f) = field.filter(|f| crate::features::index_of(f).is_none()) {
                    return Err(format!("feature {f:?} does not exist (see docs/features.md)"));
                }
                self.needs.features.add(field);
            }
            "lists" => {
                if let Some(f) = field.filter(|f| !self.lists.iter().any(|l| l == f)) {
                    return Err(format!("list {f:?} is not defined under `lists:`"));
                }
            }
            "score" => self.needs.score = true,
            "model_decision" => self.needs.model_decision = true,
            other => return Err(format!("unknown variable {other:?} (known: {})", VARIABLES.join(", "))),
        }
        Ok(())
    }
}
