//! The clause constants are exactly the clause IDs the spec defines.

use ekc_oracle::clause::{self, ClauseId};
use std::collections::BTreeSet;

const SPECS: [&str; 3] = [
    include_str!("../../../docs/spec/ek-roj.md"),
    include_str!("../../../docs/spec/ek-kor.md"),
    include_str!("../../../docs/spec/control.md"),
];

/// Every token shaped like `PREFIX(-WORD)-NUMBER[letter]` with a known prefix (e.g. ROJ-SAFE-1a).
fn ids_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for token in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
        let parts: Vec<&str> = token.split('-').collect();
        let prefix_ok = matches!(parts.first(), Some(&("ROJ" | "KOR" | "CTL" | "BRIDGE")));
        let shape_ok = (2..=3).contains(&parts.len())
            && parts.last().is_some_and(|n| {
                let digits = n.trim_end_matches(|c: char| c.is_ascii_lowercase());
                !digits.is_empty() && digits.len() + 1 >= n.len() && digits.bytes().all(|b| b.is_ascii_digit())
            })
            && parts[1..parts.len() - 1].iter().all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_uppercase()));
        if prefix_ok && shape_ok {
            out.insert(token.to_owned());
        }
    }
    out
}

#[test]
fn constants_match_the_spec() {
    let in_spec: BTreeSet<String> = SPECS.iter().flat_map(|s| ids_in(s)).collect();
    let in_code: BTreeSet<String> = clause::ALL.iter().map(|c| c.to_string()).collect();
    assert_eq!(in_code.len(), clause::ALL.len(), "duplicate constants");
    let missing: Vec<_> = in_spec.difference(&in_code).collect();
    let extra: Vec<_> = in_code.difference(&in_spec).collect();
    assert!(missing.is_empty() && extra.is_empty(), "missing {missing:?}, not in spec {extra:?}");
}

#[test]
fn lookup_and_display() {
    assert_eq!(ClauseId::from_name("ROJ-VOTE-4"), Some(clause::ROJ_VOTE_4));
    assert_eq!(ClauseId::from_name("ROJ-VOTE-99"), None);
    assert_eq!(clause::KOR_HOP_1.to_string(), "KOR-HOP-1");
    assert_eq!(serde_json::to_string(&clause::CTL_CMD_4).unwrap(), "\"CTL-CMD-4\"");
}
