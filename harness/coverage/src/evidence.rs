//! Discovers, from the code, where each clause is judged and which tests prove the judge catches
//! a violation of it. Nothing here is a hand-kept list: a check or a mutation test added to the
//! places below is found at the next run.
//!
//! | evidence kind | where it is found | what proves it (a mutation test) |
//! |---|---|---|
//! | capture check | clause cited in `harness/checkers/src/**` (not `state.rs`, not `testkit/`) or `harness/capture/src/**` | a `#[test]` in `harness/checkers` or `harness/capture` that asserts the clause |
//! | state-dump check | clause cited in `harness/checkers/src/state.rs` | a `#[test]` in `harness/checkers` that asserts the clause |
//! | oracle (one message) | clause cited in `harness/oracle/src/**` (not `clause.rs`) | an invalid golden vector with the clause, or a `#[test]` in `harness/oracle` that asserts it |
//! | scenario step | a step's `clause` in `vectors/scenarios/*.toml`, or a clause cited in `harness/lab/src/**` | a `#[test]` in `harness/lab` that asserts the clause |
//! | run/certify check | clause cited in `harness/cli/src/**` (certify's pre-checks, run's verdicts), `harness/report/src/contract.rs` or `harness/lab/src/certify.rs` | a `#[test]` in `harness/report`, `harness/cli` or `harness/lab` that asserts the clause |
//! | golden vector | an entry of `vectors/*.json` with `"verdict": "invalid"` and the clause | itself: the oracle's golden tests assert its clause, the nodes' tests replay it |
//!
//! "Asserts the clause" is [`Source::asserted`]: the clause is cited in a `#[test]` function outside
//! a statement that asserts its absence. [`NOT_MUTATION_TESTS`] are left out: they cite clauses
//! without building a violation.

use crate::rust_src::Source;
use anyhow::{Context, Result};
use ekc_oracle::clause::ClauseId;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use walkdir::WalkDir;

/// How a clause is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Capture,
    State,
    Oracle,
    Step,
    Certify,
    Vector,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Capture => "capture check",
            Kind::State => "state-dump check",
            Kind::Oracle => "oracle (one message)",
            Kind::Step => "scenario step",
            Kind::Certify => "run/certify check",
            Kind::Vector => "golden vector",
        }
    }

    /// Which tests prove a judge of this kind catches a violation.
    fn proven_by(self, origin: Origin) -> bool {
        matches!(
            (self, origin),
            (Kind::Capture | Kind::State, Origin::Checkers)
                | (Kind::Oracle, Origin::Oracle | Origin::Vector)
                | (Kind::Vector, Origin::Vector)
                | (Kind::Step, Origin::Lab)
                | (Kind::Certify, Origin::Certify | Origin::Lab)
        )
    }
}

/// One place that judges a clause: `place` is a repository path, with the checker's name for a
/// capture check (`commit-safety: harness/checkers/src/checks/commit.rs`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Evidence {
    pub kind: Kind,
    pub place: String,
}

/// Where a mutation test lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    Checkers,
    Oracle,
    Lab,
    Certify,
    Vector,
}

/// One mutation test: `file::function`, or `file#vector-id` for a golden vector.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Proof {
    pub origin: Origin,
    pub place: String,
}

impl fmt::Display for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.place)
    }
}

/// Everything discovered, per clause.
#[derive(Debug, Default)]
pub struct Found {
    pub evidence: BTreeMap<ClauseId, BTreeSet<Evidence>>,
    pub proofs: BTreeMap<ClauseId, BTreeSet<Proof>>,
    /// Scenarios whose `clauses` list names the clause (what a case exercises; not a judge).
    pub scenarios: BTreeMap<ClauseId, BTreeSet<String>>,
}

impl Found {
    /// The evidence of `id` that some mutation test proves.
    pub fn proven(&self, id: ClauseId) -> Vec<&Evidence> {
        let proofs = self.proofs.get(&id);
        self.evidence
            .get(&id)
            .into_iter()
            .flatten()
            .filter(|e| proofs.is_some_and(|p| p.iter().any(|p| e.kind.proven_by(p.origin))))
            .collect()
    }

    /// The mutation tests of `id` that prove one of its judges.
    pub fn proving(&self, id: ClauseId) -> Vec<&Proof> {
        let kinds: Vec<Kind> = self.evidence.get(&id).into_iter().flatten().map(|e| e.kind).collect();
        self.proofs.get(&id).into_iter().flatten().filter(|p| kinds.iter().any(|k| k.proven_by(p.origin))).collect()
    }

    fn judge(&mut self, ids: impl IntoIterator<Item = ClauseId>, kind: Kind, place: &str) {
        for id in ids {
            self.evidence.entry(id).or_default().insert(Evidence { kind, place: place.to_owned() });
        }
    }

    fn prove(&mut self, ids: impl IntoIterator<Item = ClauseId>, origin: Origin, place: String) {
        for id in ids {
            self.proofs.entry(id).or_default().insert(Proof { origin, place: place.clone() });
        }
    }
}

/// Scans the repository at `root`.
pub fn discover(root: &Path) -> Result<Found> {
    let mut found = Found::default();
    for file in rust_files(root, "harness")? {
        scan_rust(root, &file, &mut found)?;
    }
    scan_scenarios(root, &mut found)?;
    scan_vectors(root, &mut found)?;
    Ok(found)
}

fn rust_files(root: &Path, dir: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in WalkDir::new(root.join(dir)).sort_by_file_name() {
        let entry = entry?;
        let rel = entry.path().strip_prefix(root)?.to_string_lossy().replace('\\', "/");
        if entry.file_type().is_file() && rel.ends_with(".rs") && !rel.contains("/target/") {
            out.push(rel);
        }
    }
    Ok(out)
}

/// The judge kind of non-test code in `rel`, if it judges at all.
fn judge_kind(rel: &str) -> Option<Kind> {
    match rel {
        "harness/checkers/src/state.rs" => Some(Kind::State),
        "harness/oracle/src/clause.rs" => None,
        "harness/report/src/contract.rs" | "harness/lab/src/certify.rs" => Some(Kind::Certify),
        _ if rel.starts_with("harness/cli/src/") => Some(Kind::Certify),
        _ if rel.starts_with("harness/capture/src/") => Some(Kind::Capture),
        _ if rel.starts_with("harness/checkers/src/testkit/") => None,
        _ if rel.starts_with("harness/checkers/src/") => Some(Kind::Capture),
        _ if rel.starts_with("harness/oracle/src/") => Some(Kind::Oracle),
        _ if rel.starts_with("harness/lab/src/") => Some(Kind::Step),
        _ => None,
    }
}

/// Tests that cite clauses but build no violation: `file` or `file::function`.
pub const NOT_MUTATION_TESTS: [&str; 2] = [
    // Tests the clause constants against the spec text.
    "harness/oracle/tests/clauses.rs",
    // Asserts that an invalid vector exists per clause; the vectors themselves are the mutations.
    "harness/oracle/tests/golden.rs::every_single_message_clause_has_an_invalid_vector",
];

/// The crate whose tests `rel` holds, as a proof origin.
fn test_origin(rel: &str) -> Option<Origin> {
    if NOT_MUTATION_TESTS.contains(&rel) {
        return None;
    }
    match rel.split('/').nth(1)? {
        "checkers" | "capture" => Some(Origin::Checkers),
        "oracle" => Some(Origin::Oracle),
        "lab" => Some(Origin::Lab),
        "report" | "cli" => Some(Origin::Certify),
        _ => None,
    }
}

fn scan_rust(root: &Path, rel: &str, found: &mut Found) -> Result<()> {
    let text = std::fs::read_to_string(root.join(rel)).with_context(|| format!("reading {rel}"))?;
    let src = Source::parse(&text);
    let is_test_file = rel.contains("/tests/") || rel.contains("/benches/") || rel.contains("/examples/");
    if let (Some(kind), false) = (judge_kind(rel), is_test_file) {
        let place = match kind {
            Kind::Capture => format!("{}: {rel}", checker_name(root, rel, &src)),
            _ => rel.to_owned(),
        };
        found.judge(src.non_test_citations(), kind, &place);
    }
    if let Some(origin) = test_origin(rel) {
        for (name, from, to) in src.test_fns() {
            let place = format!("{rel}::{name}");
            if !NOT_MUTATION_TESTS.contains(&place.as_str()) {
                found.prove(src.asserted(from, to), origin, place);
            }
        }
    }
    Ok(())
}

/// The name a checker reports (`fn name(&self) -> &'static str { COMMIT_SAFETY }` resolved through
/// `pub const COMMIT_SAFETY: &str = "commit-safety"` in checks/mod.rs); the file stem otherwise.
fn checker_name(root: &Path, rel: &str, src: &Source) -> String {
    let stem = Path::new(rel).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if !rel.starts_with("harness/checkers/src/checks/") || stem == "mod" {
        return "decoder".to_owned();
    }
    let code: String = src.code.split_whitespace().collect::<Vec<_>>().join(" ");
    let Some(constant) = code.split("fn name(&self) -> &'static str { ").nth(1).and_then(|r| r.split(' ').next()) else {
        return stem;
    };
    let consts = std::fs::read_to_string(root.join("harness/checkers/src/checks/mod.rs")).unwrap_or_default();
    let needle = format!("pub const {constant}: &str = \"");
    consts.split(&needle).nth(1).and_then(|r| r.split('"').next()).map_or(stem, str::to_owned)
}

/// Each scenario's `clauses` (exercised) and every step value that is exactly a clause ID (a
/// step's `clause`: the clause a failed step is reported under).
fn scan_scenarios(root: &Path, found: &mut Found) -> Result<()> {
    let dir = root.join("vectors/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)?.collect::<std::io::Result<Vec<_>>>()?;
    files.sort_by_key(|e| e.file_name());
    for entry in files.iter().filter(|e| e.path().extension().is_some_and(|x| x == "toml")) {
        let rel = format!("vectors/scenarios/{}", entry.file_name().to_string_lossy());
        let doc: toml::Value = toml::from_str(&std::fs::read_to_string(entry.path())?).with_context(|| format!("parsing {rel}"))?;
        let name = doc.get("name").and_then(|n| n.as_str()).unwrap_or(&rel).to_owned();
        for id in doc.get("clauses").and_then(|c| c.as_array()).into_iter().flatten().filter_map(|c| c.as_str()).filter_map(ClauseId::from_name) {
            found.scenarios.entry(id).or_default().insert(name.clone());
        }
        let mut cited = BTreeSet::new();
        toml_strings(doc.get("steps"), &mut |s| cited.extend(ClauseId::from_name(s)));
        found.judge(cited, Kind::Step, &rel);
    }
    Ok(())
}

fn toml_strings(v: Option<&toml::Value>, f: &mut impl FnMut(&str)) {
    match v {
        Some(toml::Value::String(s)) => f(s),
        Some(toml::Value::Array(a)) => a.iter().for_each(|x| toml_strings(Some(x), f)),
        Some(toml::Value::Table(t)) => t.values().for_each(|x| toml_strings(Some(x), f)),
        _ => {}
    }
}

/// Invalid golden vectors: each is a violation of its clause that the oracle's golden tests (and
/// the nodes' replay tests) must catch.
fn scan_vectors(root: &Path, found: &mut Found) -> Result<()> {
    let mut files: Vec<_> = std::fs::read_dir(root.join("vectors"))?.collect::<std::io::Result<Vec<_>>>()?;
    files.sort_by_key(|e| e.file_name());
    for entry in files.iter().filter(|e| e.path().extension().is_some_and(|x| x == "json")) {
        let rel = format!("vectors/{}", entry.file_name().to_string_lossy());
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(entry.path())?).with_context(|| format!("parsing {rel}"))?;
        for v in doc.as_array().into_iter().flatten().filter(|v| v["verdict"] == "invalid") {
            let Some(id) = v["clause"].as_str().and_then(ClauseId::from_name) else { continue };
            found.judge([id], Kind::Vector, &rel);
            let vid = v["id"].as_str().unwrap_or("?");
            found.prove([id], Origin::Vector, format!("{rel}#{vid}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ekc_oracle::clause;

    /// Discovery on this repository finds the judges and proofs known to exist (if one of these is
    /// renamed away, the discovery rule, not the fact, is what to check first).
    #[test]
    fn discovers_the_known_judges_and_proofs() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let found = discover(&root).expect("repository scans");
        let has = |id, kind, place: &str| found.evidence[&id].iter().any(|e| e.kind == kind && e.place == place);
        assert!(has(clause::ROJ_VOTE_8, Kind::Capture, "commit-safety: harness/checkers/src/checks/commit.rs"));
        assert!(has(clause::KOR_AE_2, Kind::State, "harness/checkers/src/state.rs"));
        assert!(has(clause::ROJ_PROP_4, Kind::Vector, "vectors/roj-messages.json"));
        let proved_from = |id, origin, prefix: &str| found.proofs[&id].iter().any(|p| p.origin == origin && p.place.starts_with(prefix));
        assert!(proved_from(clause::ROJ_VOTE_8, Origin::Checkers, "harness/checkers/tests/"));
        assert!(proved_from(clause::ROJ_PROP_4, Origin::Vector, "vectors/roj-messages.json#roj-prop4-"));
        assert!(proved_from(clause::CTL_WIRE_2, Origin::Oracle, "harness/oracle/tests/ctl.rs::"));
        // Not proofs: the constants' own test and the "a vector exists" meta-test.
        assert!(found.proofs.values().flatten().all(|p| !NOT_MUTATION_TESTS.iter().any(|n| p.place.starts_with(n))));
        // A valid vector is no violation.
        assert!(!found.proofs[&clause::ROJ_PROP_4].iter().any(|p| p.place.ends_with("#roj-valid-propose-32-members")));
    }
}
