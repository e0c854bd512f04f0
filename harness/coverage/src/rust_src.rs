//! Reading clause citations out of Rust source: comments are dropped, string literals kept only as
//! whole values, and test code (`tests/` files, `#[cfg(test)]` modules, `#[test]` functions) is
//! told apart from the code that judges. A citation is a clause constant (`clause::ROJ_VOTE_8`,
//! or `ROJ_VOTE_8` imported) or a string literal that is exactly a clause ID (`"ROJ-VOTE-8"`).

use ekc_oracle::clause::{self, ClauseId};
use std::collections::BTreeSet;

/// A source file split into code (comments blanked, string contents blanked) and its literals.
pub struct Source {
    /// The input with every comment and string or char literal turned into spaces (one per
    /// character), so braces, `!` and `;` in it are code. Offsets below are offsets in `code`.
    pub code: String,
    /// Every string literal's value with its byte offset in `code`.
    pub literals: Vec<(usize, String)>,
}

impl Source {
    pub fn parse(src: &str) -> Source {
        let b = src.as_bytes();
        let mut code = String::with_capacity(src.len());
        let mut literals = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let (end, literal) = match b[i] {
                b'/' if b.get(i + 1) == Some(&b'/') => (line_end(b, i), None),
                b'/' if b.get(i + 1) == Some(&b'*') => (block_comment_end(b, i), None),
                b'"' => string_end(b, i + 1, 0),
                b'r' | b'b' if raw_string_start(b, i).is_some() => {
                    let (open, hashes) = raw_string_start(b, i).unwrap();
                    string_end(b, open, hashes)
                }
                b'\'' if is_char_literal(b, i) => (char_literal_end(b, i), None),
                _ => {
                    let ch = src[i..].chars().next().unwrap();
                    code.push(ch);
                    i += ch.len_utf8();
                    continue;
                }
            };
            if let Some((from, to)) = literal {
                literals.push((code.len(), src[from..to].to_owned()));
            }
            code.extend(std::iter::repeat(' ').take(src[i..end].chars().count()));
            i = end;
        }
        Source { code, literals }
    }

    /// Clauses cited in `code[from..to]`.
    pub fn citations(&self, from: usize, to: usize) -> BTreeSet<ClauseId> {
        let mut out: BTreeSet<ClauseId> = self.code[from..to]
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter_map(constant)
            .collect();
        out.extend(self.literals.iter().filter(|(at, _)| (from..to).contains(at)).filter_map(|(_, s)| ClauseId::from_name(s)));
        out
    }

    /// Clauses cited outside `#[cfg(test)]` items (a test module, or any other item so marked).
    pub fn non_test_citations(&self) -> BTreeSet<ClauseId> {
        let mut out = BTreeSet::new();
        let mut at = 0;
        while let Some(found) = self.code[at..].find("#[cfg(test)]") {
            let attr = at + found;
            out.extend(self.citations(at, attr));
            let item_end = match (self.code[attr..].find('{'), self.code[attr..].find(';')) {
                (Some(b), Some(s)) if s < b => attr + s + 1,
                (Some(b), _) => matching_brace(&self.code, attr + b),
                (None, Some(s)) => attr + s + 1,
                (None, None) => self.code.len(),
            };
            at = item_end;
        }
        out.extend(self.citations(at, self.code.len()));
        out
    }

    /// Every `#[test]` (or `#[tokio::test]` ...) function: its name and the byte range of its body.
    pub fn test_fns(&self) -> Vec<(String, usize, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(found) = self.code[at..].find("test]") {
            let attr = at + found;
            at = attr + 5;
            let attr_start = self.code[..attr].rfind("#[").unwrap_or(attr);
            if self.code[attr_start..attr].contains(']') || self.code[attr_start..attr].contains("cfg") {
                continue;
            }
            let Some(fn_at) = self.code[at..].find("fn ").map(|f| at + f + 3) else { break };
            let name: String = self.code[fn_at..].trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let Some(open) = self.code[fn_at..].find('{').map(|o| fn_at + o) else { break };
            let close = matching_brace(&self.code, open);
            out.push((name, open, close));
            at = close;
        }
        out
    }

    /// Clauses a test function asserts to be caught: its citations, leaving out statements that
    /// assert a clause is *not* reported (`!… .any(…)`, `.all(… != clause::X)`, `assert_ne!`,
    /// helpers named `…not…`/`…clean…`).
    pub fn asserted(&self, from: usize, to: usize) -> BTreeSet<ClauseId> {
        let mut out = BTreeSet::new();
        let mut start = from;
        for (i, ch) in self.code[from..to].char_indices() {
            let end = from + i + ch.len_utf8();
            if ch == ';' || ch == '}' || end == to {
                if !negative(&self.code[start..end]) {
                    out.extend(self.citations(start, end));
                }
                start = end;
            }
        }
        out
    }
}

fn negative(statement: &str) -> bool {
    let compact: String = statement.chars().filter(|c| !c.is_whitespace()).collect();
    // A logical `!` (not a macro's, not `!=`) in front of a search: `!r.iter().any(..)`.
    let negated_search = compact.char_indices().any(|(i, c)| {
        let before = compact[..i].chars().next_back();
        let after = &compact[i + 1..];
        c == '!' && !before.is_some_and(|b| b.is_alphanumeric() || b == '_') && !after.starts_with('=') && {
            let operand = after.split(';').next().unwrap_or("");
            operand.contains(".any(") || operand.contains(".contains(")
        }
    });
    // `.all(|f| f.clause != clause::X)` asserts absence too (and `.all(..)` alone holds vacuously).
    let absence = compact.contains("!=clause::") || compact.contains(".all(");
    negated_search || absence || compact.contains("assert_ne!") || compact.contains("not_") || compact.contains("_not") || compact.contains("clean")
}

/// `ROJ_VOTE_8` -> the clause, when it is the constant of a clause of the spec.
fn constant(token: &str) -> Option<ClauseId> {
    if !token.starts_with(|c: char| c.is_ascii_uppercase()) || !token.contains('_') {
        return None;
    }
    clause::ALL.iter().copied().find(|c| c.as_str().replace('-', "_").to_uppercase() == token)
}

fn line_end(b: &[u8], i: usize) -> usize {
    b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| i + p)
}

fn block_comment_end(b: &[u8], i: usize) -> usize {
    let mut depth = 0;
    let mut j = i;
    while j + 1 < b.len() {
        if b[j] == b'/' && b[j + 1] == b'*' {
            depth += 1;
            j += 2;
        } else if b[j] == b'*' && b[j + 1] == b'/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return j;
            }
        } else {
            j += 1;
        }
    }
    b.len()
}

/// `r"`, `r#"`, `br"`, `br##"`, `b"`: the offset after the opening quote and the number of `#`.
fn raw_string_start(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    let mut j = i;
    if b[j] == b'b' {
        j += 1;
        if b.get(j) == Some(&b'"') {
            return Some((j + 1, 0));
        }
    }
    if b.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = b[j..].iter().take_while(|&&c| c == b'#').count();
    (b.get(j + hashes) == Some(&b'"')).then_some((j + hashes + 1, hashes))
}

/// From the byte after the opening quote: the end of the literal and its content range. With
/// `hashes == 0` and no `r` prefix, backslash escapes are honoured (harmless for raw strings,
/// whose content never ends in a lone backslash before the closing quote in practice).
fn string_end(b: &[u8], open: usize, hashes: usize) -> (usize, Option<(usize, usize)>) {
    let mut j = open;
    while j < b.len() {
        match b[j] {
            b'\\' if hashes == 0 => j += 2,
            b'"' if b[j + 1..].iter().take(hashes).filter(|&&c| c == b'#').count() == hashes => {
                return (j + 1 + hashes, Some((open, j)));
            }
            _ => j += 1,
        }
    }
    (b.len(), Some((open, b.len())))
}

/// `'{'`, `'\n'`, `'\''` are char literals; `'a` in `&'a str` is a lifetime.
fn is_char_literal(b: &[u8], i: usize) -> bool {
    match (b.get(i + 1), b.get(i + 2), b.get(i + 3)) {
        (Some(b'\\'), _, _) => true,
        (Some(_), Some(b'\''), _) => true,
        _ => std::str::from_utf8(&b[i + 1..b.len().min(i + 6)]).ok().and_then(|s| s.chars().nth(1)) == Some('\''),
    }
}

fn char_literal_end(b: &[u8], i: usize) -> usize {
    let start = if b[i + 1] == b'\\' { i + 3 } else { i + 2 };
    b[start..].iter().position(|&c| c == b'\'').map_or(b.len(), |p| start + p + 1)
}

fn matching_brace(code: &str, open: usize) -> usize {
    let mut depth = 0usize;
    for (i, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + i + 1;
                }
            }
            _ => {}
        }
    }
    code.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r##"
use ekc_oracle::clause::{self, ROJ_VOTE_3};
// clause::ROJ_TIME_1 in a comment is no citation
fn judge() -> &'static str { if x { "ROJ-SAFE-2" } else { "not ROJ-KV-1" } }
#[cfg(test)]
fn only_in_tests() -> ClauseId { clause::KOR_AE_1 }
fn judge_too() -> ClauseId { clause::KOR_AE_2 }
#[cfg(test)]
mod tests {
    #[test]
    fn caught() {
        let s = b"{\"unbalanced";
        assert_caught(&s, "schema", clause::ROJ_WIRE_1, &['{' as u8]);
        assert!(!r.violations.iter().any(|f| f.clause == clause::ROJ_TIME_1));
        assert!(r.warnings.iter().all(|f| f.clause != clause::ROJ_SAFE_1));
        assert_clean_of(&s, clause::KOR_HOP_1);
        assert!(r.violations.iter().any(|f| f.clause == clause::KOR_HOP_2 && f.frames != [1]));
    }
    #[test]
    fn second() { helper(ROJ_VOTE_3); }
}
"##;

    #[test]
    fn citations_skip_comments_and_inexact_strings() {
        let s = Source::parse(SRC);
        let c = s.non_test_citations();
        let ids: Vec<&str> = c.iter().map(|c| c.as_str()).collect();
        assert_eq!(ids, ["KOR-AE-2", "ROJ-SAFE-2", "ROJ-VOTE-3"]);
    }

    #[test]
    fn test_functions_and_what_they_assert() {
        let s = Source::parse(SRC);
        let fns = s.test_fns();
        let names: Vec<&str> = fns.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["caught", "second"]);
        let (_, from, to) = fns[0];
        let ids: Vec<&str> = s.asserted(from, to).iter().map(|c| c.as_str()).collect();
        assert_eq!(ids, ["KOR-HOP-2", "ROJ-WIRE-1"], "negative assertions are not mutation tests");
        let (_, from, to) = fns[1];
        assert_eq!(s.asserted(from, to).into_iter().collect::<Vec<_>>(), [clause::ROJ_VOTE_3]);
    }
}
