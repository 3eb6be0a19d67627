//! `MatchExpressions`: which objects under the prefix a batch takes. An object is taken
//! when any expression matches its key (all objects when there is none). Accepted forms:
//! `prefix("a/")`, `suffix(".jpg")` (quotes optional), IMM's `key prefix (a/)` and
//! `key suffix (.jpg)`, and globs over the whole key (`in/**/*.png`, `*.jp?g`; `*` stays
//! within one `/` level, `**` crosses levels).

use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    Prefix(String),
    Suffix(String),
    Glob(String),
}

/// The expressions as given, checked; they match through [`Matcher::compile`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(transparent)]
pub struct Matcher {
    pub expressions: Vec<String>,
}

/// The compiled form, built once per scanner page.
pub struct Compiled {
    rules: Vec<CompiledRule>,
}

enum CompiledRule {
    Prefix(String),
    Suffix(String),
    Glob(GlobMatcher),
}

/// `prefix(x)`, `prefix("x")`, `key prefix (x)`: the operand of a named function, if `text`
/// is one.
fn operand<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let rest = text
        .strip_prefix("key ")
        .map(str::trim_start)
        .unwrap_or(text);
    let rest = rest.strip_prefix(name)?.trim_start();
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?.trim();
    Some(
        inner
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .or_else(|| inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
            .unwrap_or(inner),
    )
}

pub fn parse_rule(expression: &str) -> Result<Rule, String> {
    let text = expression.trim();
    if text.is_empty() {
        return Err("is empty".into());
    }
    if let Some(p) = operand(text, "prefix") {
        return Ok(Rule::Prefix(p.to_string()));
    }
    if let Some(s) = operand(text, "suffix") {
        return Ok(Rule::Suffix(s.to_string()));
    }
    if text.contains('(') {
        return Err(format!(
            "{} is not prefix(...), suffix(...), key prefix (...), key suffix (...) or a glob",
            crate::error::quote(text)
        ));
    }
    glob(text).map(|_| Rule::Glob(text.to_string()))
}

fn glob(pattern: &str) -> Result<GlobMatcher, String> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map(|g: Glob| g.compile_matcher())
        .map_err(|e| format!("is not a valid glob: {}", e.kind()))
}

impl Matcher {
    /// Checks every expression; the error names the one at fault by its position.
    pub fn new(expressions: Vec<String>) -> Result<Self, (usize, String)> {
        for (i, e) in expressions.iter().enumerate() {
            parse_rule(e).map_err(|reason| (i, reason))?;
        }
        Ok(Matcher { expressions })
    }

    pub fn compile(&self) -> Result<Compiled, String> {
        let rules = self
            .expressions
            .iter()
            .map(|e| {
                Ok(match parse_rule(e)? {
                    Rule::Prefix(p) => CompiledRule::Prefix(p),
                    Rule::Suffix(s) => CompiledRule::Suffix(s),
                    Rule::Glob(g) => CompiledRule::Glob(glob(&g)?),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Compiled { rules })
    }
}

impl Compiled {
    pub fn keeps(&self, key: &str) -> bool {
        self.rules.is_empty()
            || self.rules.iter().any(|rule| match rule {
                CompiledRule::Prefix(p) => key.starts_with(p.as_str()),
                CompiledRule::Suffix(s) => key.ends_with(s.as_str()),
                CompiledRule::Glob(g) => g.is_match(key),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keeps(expressions: &[&str], key: &str) -> bool {
        Matcher::new(expressions.iter().map(|e| e.to_string()).collect())
            .unwrap()
            .compile()
            .unwrap()
            .keeps(key)
    }

    #[test]
    fn every_documented_form_matches() {
        assert!(keeps(&[], "anything"));
        assert!(keeps(&["suffix(\".jpg\")"], "in/a.jpg"));
        assert!(!keeps(&["suffix(\".jpg\")"], "in/a.png"));
        assert!(keeps(&["prefix(in/2024/)"], "in/2024/a.png"));
        assert!(keeps(&["key prefix (abc)"], "abc/x"));
        assert!(!keeps(&["key prefix (abc)"], "ab/x"));
        assert!(keeps(&["key suffix ('.png')"], "x.png"));
        assert!(keeps(&["in/*.png"], "in/a.png"));
        assert!(!keeps(&["in/*.png"], "in/deep/a.png"));
        assert!(keeps(&["in/**/*.png"], "in/deep/a.png"));
        assert!(keeps(&["suffix(.png)", "suffix(.jpg)"], "a.jpg"));
    }

    #[test]
    fn bad_expressions_are_named() {
        assert_eq!(
            Matcher::new(vec!["ok*".into(), "".into()]).unwrap_err().0,
            1
        );
        let (_, reason) = Matcher::new(vec!["size(3)".into()]).unwrap_err();
        assert!(reason.contains("prefix(...)"), "{reason}");
        assert!(Matcher::new(vec!["a[".into()]).is_err());
    }
}
