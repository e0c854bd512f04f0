//! Generates the clause constants (`src/clause.rs` includes the result) from the normative spec
//! text in `docs/spec/*.md`, so a clause added to the spec is a constant at the next build and a
//! clause removed from it is a compile error wherever it is still cited.

use std::collections::BTreeSet;
use std::path::Path;
use std::{env, fs};

const SPECS: [&str; 3] = ["ek-roj.md", "ek-kor.md", "control.md"];

/// `PREFIX[-WORD]-NUMBER[letter]` with PREFIX one of ROJ, KOR, CTL, BRIDGE (e.g. ROJ-SAFE-1a).
fn is_clause(token: &str) -> bool {
    let parts: Vec<&str> = token.split('-').collect();
    let prefix_ok = matches!(parts.first(), Some(&("ROJ" | "KOR" | "CTL" | "BRIDGE")));
    let words_ok = parts.len() >= 2
        && parts[1..parts.len() - 1].iter().all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_uppercase()));
    let last = parts.last().copied().unwrap_or("");
    let digits = last.trim_end_matches(|c: char| c.is_ascii_lowercase());
    let number_ok = !digits.is_empty()
        && digits.len() + 1 >= last.len()
        && digits.bytes().all(|b| b.is_ascii_digit());
    prefix_ok && (2..=3).contains(&parts.len()) && words_ok && number_ok
}

fn sort_key(id: &str) -> (String, u32, String) {
    let (head, last) = id.rsplit_once('-').unwrap_or((id, ""));
    let digits: String = last.chars().take_while(|c| c.is_ascii_digit()).collect();
    (head.to_owned(), digits.parse().unwrap_or(0), last[digits.len()..].to_owned())
}

fn main() {
    let spec_dir = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../docs/spec");
    let mut ids = BTreeSet::new();
    for name in SPECS {
        let path = spec_dir.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        for token in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            if is_clause(token) {
                ids.insert(token.to_owned());
            }
        }
    }
    let mut ids: Vec<String> = ids.into_iter().collect();
    ids.sort_by_key(|id| sort_key(id));
    let mut out = String::new();
    for id in &ids {
        let name = id.replace('-', "_").to_uppercase();
        out.push_str(&format!("/// `{id}`\npub const {name}: ClauseId = ClauseId(\"{id}\");\n"));
    }
    out.push_str("\n/// Every clause of the spec, grouped by prefix, in numbered order.\npub const ALL: &[ClauseId] = &[\n");
    for id in &ids {
        out.push_str(&format!("    {},\n", id.replace('-', "_").to_uppercase()));
    }
    out.push_str("];\n");
    fs::write(Path::new(&env::var("OUT_DIR").unwrap()).join("clauses.rs"), out).unwrap();
}
