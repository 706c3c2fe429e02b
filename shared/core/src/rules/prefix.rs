//! Prefix lists (IRSF ranges, premium-rate blocks): `lists.X.exists(p, event.F.startsWith(p))`
//! scans every entry in CEL. Such a scan is recognised in the source and replaced by a boolean
//! variable that a prefix index computes per event in O(length of the value): the set of entries
//! plus the distinct entry lengths, so a value is checked by its prefixes of those lengths.

use std::collections::{BTreeSet, HashSet};

pub struct PrefixIndex {
    entries: HashSet<String>,
    lengths: Vec<usize>,
}

impl PrefixIndex {
    pub fn new(values: &[String]) -> PrefixIndex {
        let lengths: BTreeSet<usize> = values.iter().map(String::len).collect();
        PrefixIndex { entries: values.iter().cloned().collect(), lengths: lengths.into_iter().collect() }
    }

    /// Distinct entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether some entry is a prefix of `value` (an empty entry is a prefix of everything).
    pub fn matches(&self, value: &str) -> bool {
        self.lengths
            .iter()
            .take_while(|n| **n <= value.len())
            .any(|n| value.is_char_boundary(*n) && self.entries.contains(&value[..*n]))
    }
}

/// The variable standing for the `n`th prefix scan of rule `rule`.
pub fn variable(rule: usize, n: usize) -> String {
    format!("__prefix_{rule}_{n}")
}

/// Replaces every `lists.X.exists(v, event.F.startsWith(v))` in `source` (whitespace allowed
/// around the parts) by its variable; returns the new source and the (list, field) of each.
/// Anything else is left to CEL as written.
pub fn rewrite(source: &str, rule: usize) -> (String, Vec<(String, String)>) {
    let mut out = String::with_capacity(source.len());
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("lists.") {
        // Not inside an identifier (e.g. `mylists.`).
        let boundary = rest[..at].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        match boundary.then(|| scan(&rest[at..])).flatten() {
            Some((len, list, field)) => {
                out.push_str(&rest[..at]);
                out.push_str(&variable(rule, found.len()));
                found.push((list, field));
                rest = &rest[at + len..];
            }
            None => {
                out.push_str(&rest[..at + "lists.".len()]);
                rest = &rest[at + "lists.".len()..];
            }
        }
    }
    out.push_str(rest);
    (out, found)
}

/// Parses `lists.X.exists(v, event.F.startsWith(v))` at the start of `s`: its length, X and F.
fn scan(s: &str) -> Option<(usize, String, String)> {
    let mut p = Parser { s, at: 0 };
    p.literal("lists.")?;
    let list = p.ident()?;
    p.literal(".exists")?;
    p.symbol('(')?;
    p.skip_space();
    let var = p.ident()?;
    p.symbol(',')?;
    p.skip_space();
    p.literal("event.")?;
    let field = p.ident()?;
    p.literal(".startsWith")?;
    p.symbol('(')?;
    p.skip_space();
    (p.ident()? == var).then_some(())?;
    p.symbol(')')?;
    p.symbol(')')?;
    Some((p.at, list, field))
}

struct Parser<'a> {
    s: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        self.at += self.s[self.at..].len() - self.s[self.at..].trim_start().len();
    }

    fn literal(&mut self, lit: &str) -> Option<()> {
        self.s[self.at..].starts_with(lit).then(|| self.at += lit.len())
    }

    /// `c` after optional spaces (the spaces after it are left).
    fn symbol(&mut self, c: char) -> Option<()> {
        self.skip_space();
        self.s[self.at..].starts_with(c).then(|| self.at += c.len_utf8())
    }

    fn ident(&mut self) -> Option<String> {
        let rest = &self.s[self.at..];
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        (len > 0 && !rest.starts_with(|c: char| c.is_ascii_digit())).then(|| {
            self.at += len;
            rest[..len].to_string()
        })
    }
}
