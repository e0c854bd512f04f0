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
}

impl Verdict {
    pub fn accept(line: String) -> Verdict {
        Verdict { accepted: true, line }
    }
    pub fn reject(reason: impl Into<String>) -> Verdict {
        Verdict { accepted: false, line: reason.into() }
    }
    /// Same drop/apply decision and, when applied, the same decoded fields.
    pub fn agrees(&self, other: &Verdict) -> bool {
        self.accepted == other.accepted && (!self.accepted || self.line == other.line)
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
