//! Shared code of the fuzz targets and the replay tool: one verdict function per parser (the
//! oracle, the Rust node's codecs, the C node's core through FFI), each rendering what it decoded
//! as a canonical text line, so that differential targets compare strings and `fuzz-replay` prints
//! them.
//!
//! A [`Verdict`] is "accepted + canonical line" or "rejected + reason". Two parsers agree on a
//! datagram when both accept with the same line or both reject (reasons and clause attribution are
//! diagnostics: a receiver only drops or applies, ROJ-WIRE-4 / KOR-WIRE-4). Every normalisation of
//! the canonical lines is listed in README.md ("Normalisations").

pub mod c_node;
pub mod ctl;
pub mod kor;
pub mod roj;

use std::fmt;

/// What one parser made of one datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub accepted: bool,
    /// Accepted: the canonical decoded fields. Rejected: the parser's reason (clause or kind).
    pub line: String,
    /// Accepted by a parser that exposes only the leading fields of the canonical line (the C
    /// node's control handling shows only the reply's id): `line` is a prefix of the full line,
    /// ending at a field boundary.
    pub leading_fields_only: bool,
}

impl Verdict {
    pub fn accept(line: String) -> Verdict {
        Verdict { accepted: true, line, leading_fields_only: false }
    }
    /// Accepted, with only the leading fields of the canonical line known (see the field).
    pub fn accept_leading_fields(line: String) -> Verdict {
        Verdict { accepted: true, line, leading_fields_only: true }
    }
    pub fn reject(reason: impl Into<String>) -> Verdict {
        Verdict { accepted: false, line: reason.into(), leading_fields_only: false }
    }
    /// Same drop/apply decision and, when applied, the same decoded fields (as far as both show).
    pub fn agrees(&self, other: &Verdict) -> bool {
        if self.accepted != other.accepted {
            return false;
        }
        if !self.accepted {
            return true;
        }
        match (self.leading_fields_only, other.leading_fields_only) {
            (false, false) => self.line == other.line,
            (true, false) => starts_with_fields(&other.line, &self.line),
            (false, true) => starts_with_fields(&self.line, &other.line),
            (true, true) => starts_with_fields(&self.line, &other.line) || starts_with_fields(&other.line, &self.line),
        }
    }
}

/// `line` begins with the fields of `leading`, whole fields only (`id=1` leads `id=1 ping`, not
/// `id=12 ping`).
fn starts_with_fields(line: &str, leading: &str) -> bool {
    line.strip_prefix(leading).is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

#[cfg(test)]
mod tests {
    use super::Verdict;

    #[test]
    fn leading_fields_agree_only_at_a_field_boundary() {
        let full = Verdict::accept("id=1 ping".into());
        assert!(full.agrees(&Verdict::accept_leading_fields("id=1".into())));
        assert!(Verdict::accept_leading_fields("id=1".into()).agrees(&full));
        assert!(!full.agrees(&Verdict::accept_leading_fields("id=12".into())));
        assert!(!Verdict::accept("id=12 ping".into()).agrees(&Verdict::accept_leading_fields("id=1".into())));
        assert!(!full.agrees(&Verdict::accept("id=1".into())), "a full line must match exactly");
        assert!(!full.agrees(&Verdict::reject("bad_request")));
        assert!(Verdict::reject("a").agrees(&Verdict::reject("b")));
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", if self.accepted { "ACCEPT" } else { "REJECT" }, self.line)
    }
}

/// Panics (the fuzzer's finding) when the parsers disagree, printing every verdict.
pub fn assert_agree(protocol: &str, data: &[u8], verdicts: &[(&str, Verdict)]) {
    let (first_name, first) = &verdicts[0];
    for (name, v) in &verdicts[1..] {
        if !first.agrees(v) {
            let mut msg = format!("{protocol}: {first_name} and {name} disagree on {}\n", hex::encode(data));
            for (n, v) in verdicts {
                msg.push_str(&format!("  {n:>10}: {v}\n"));
            }
            panic!("{msg}");
        }
    }
}
