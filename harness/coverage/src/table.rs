//! Classifies every clause from what was discovered and the hand-written exceptions
//! (`docs/spec/not-judged.toml`), finds what is inconsistent, and renders `docs/spec/coverage.md`
//! and the README's counts.

use crate::evidence::{Found, Kind};
use crate::spec::Clause;
use anyhow::{Context, Result};
use ekc_oracle::clause::ClauseId;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

/// `docs/spec/not-judged.toml`: the only hand-written part of the coverage.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exceptions {
    /// Clause -> why no capture, state dump, scenario or pre-check can judge it.
    #[serde(default)]
    pub not_observable: BTreeMap<String, String>,
    /// Clause -> the judge it still lacks: judgeable, but no check (or no mutation test) yet.
    #[serde(default)]
    pub open: BTreeMap<String, String>,
    /// Clause -> what it defines (a term, a parameter, a formula) and where its use is judged: it
    /// states no obligation of its own.
    #[serde(default)]
    pub definition: BTreeMap<String, String>,
}

impl Exceptions {
    pub fn read(path: &Path) -> Result<Exceptions> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// Where a clause stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// A judge cites it and a mutation test proves that judge catches a violation.
    Judged,
    NotObservable(String),
    /// Listed open; no judge cites it yet.
    OpenNoCheck(String),
    /// Listed open; a judge cites it but no mutation test proves it.
    OpenUnproven(String),
    /// Listed as a definition: no obligation of its own.
    Definition(String),
    /// None of the above: the coverage test fails.
    Unclassified,
}

impl Status {
    fn cell(&self) -> String {
        match self {
            Status::Judged => "judged".into(),
            Status::NotObservable(r) => format!("**not observable**: {r}"),
            Status::OpenNoCheck(r) => format!("**open, no check yet**: {r}"),
            Status::OpenUnproven(r) => format!("**open, checked without mutation test**: {r}"),
            Status::Definition(r) => format!("definition: {r}"),
            Status::Unclassified => "**UNCLASSIFIED**".into(),
        }
    }
}

/// The classified table and every inconsistency found on the way.
pub struct Coverage<'a> {
    pub rows: Vec<(&'a Clause, Status)>,
    pub problems: Vec<String>,
    found: &'a Found,
}

pub fn classify<'a>(clauses: &'a [Clause], found: &'a Found, ex: &Exceptions) -> Coverage<'a> {
    let mut problems = Vec::new();
    for name in ex.not_observable.keys().chain(ex.open.keys()).chain(ex.definition.keys()) {
        if ClauseId::from_name(name).is_none() {
            problems.push(format!("docs/spec/not-judged.toml names {name}, which is not a clause of docs/spec"));
        }
    }
    let rows = clauses.iter().map(|c| (c, status(c, found, ex, &mut problems))).collect();
    Coverage { rows, problems, found }
}

fn status(c: &Clause, found: &Found, ex: &Exceptions, problems: &mut Vec<String>) -> Status {
    let id = c.id.as_str();
    let cited = found.evidence.get(&c.id).is_some_and(|e| !e.is_empty());
    let proven = !found.proven(c.id).is_empty();
    let (not_obs, open, def) = (ex.not_observable.get(id), ex.open.get(id), ex.definition.get(id));
    let lists = [("not_observable", not_obs), ("open", open), ("definition", def)];
    for (list, reason) in lists {
        if reason.is_some_and(|r| r.trim().is_empty()) {
            problems.push(format!("{id}: its [{list}] entry gives no reason"));
        }
    }
    if lists.iter().filter(|(_, r)| r.is_some()).count() > 1 {
        problems.push(format!("{id} is in more than one list of docs/spec/not-judged.toml"));
    }
    for (list, reason) in [("not observable", not_obs), ("a definition", def)] {
        if let (Some(_), true) = (reason, cited) {
            let places: Vec<String> = found.evidence[&c.id].iter().map(|e| format!("{} ({})", e.place, e.kind.label())).collect();
            problems.push(format!("{id} is marked {list} but is judged in {}: the reason is stale", places.join(", ")));
        }
    }
    if let (Some(_), true) = (open, proven) {
        problems.push(format!("{id} is judged and proven by a mutation test now: remove it from [open] in docs/spec/not-judged.toml"));
    }
    let status = match (proven, not_obs, open, def) {
        (true, ..) => Status::Judged,
        (false, Some(r), ..) => Status::NotObservable(r.clone()),
        (false, None, Some(r), _) if cited => Status::OpenUnproven(r.clone()),
        (false, None, Some(r), _) => Status::OpenNoCheck(r.clone()),
        (false, None, None, Some(r)) => Status::Definition(r.clone()),
        (false, None, None, None) => Status::Unclassified,
    };
    if status == Status::Unclassified {
        let why = if cited { "a judge cites it but no mutation test proves it" } else { "no judge cites it" };
        problems.push(format!("{id} is unclassified ({why}): add a check with a mutation test, or list it in docs/spec/not-judged.toml"));
    }
    status
}

impl Coverage<'_> {
    /// (label, count) in the order the README shows them.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        let n = |f: fn(&Status) -> bool| self.rows.iter().filter(|(_, s)| f(s)).count();
        vec![
            ("clauses", self.rows.len()),
            ("with a requirement keyword", self.rows.iter().filter(|(c, _)| c.is_requirement()).count()),
            ("judged (with a mutation test)", n(|s| *s == Status::Judged)),
            ("not observable", n(|s| matches!(s, Status::NotObservable(_)))),
            ("open: no check yet", n(|s| matches!(s, Status::OpenNoCheck(_)))),
            ("open: checked, no mutation test yet", n(|s| matches!(s, Status::OpenUnproven(_)))),
            ("definitions (no obligation of their own)", n(|s| matches!(s, Status::Definition(_)))),
            ("unclassified", n(|s| *s == Status::Unclassified)),
        ]
    }

    fn counts_table(&self) -> String {
        let mut out = String::from("| clauses | count |\n|---|---|\n");
        for (label, n) in self.counts() {
            let _ = writeln!(out, "| {label} | {n} |");
        }
        out
    }

    /// The README section between the coverage markers.
    pub fn readme_section(&self) -> String {
        format!(
            "Generated from the spec and the code by `just spec-coverage` (full table: [`docs/spec/coverage.md`](docs/spec/coverage.md));\n`just test-spec-coverage` fails when a clause is unclassified or these numbers are stale.\n\n{}",
            self.counts_table()
        )
    }

    /// `docs/spec/coverage.md`.
    pub fn render(&self) -> String {
        let mut out = String::from(HEADER);
        out.push_str(&self.counts_table());
        out.push_str(LEGEND);
        self.render_open(&mut out);
        for spec in crate::spec::SPECS {
            let _ = write!(out, "\n## {spec}\n\n| clause | requires | status | judged by | mutation tests | scenarios |\n|---|---|---|---|---|---|\n");
            for (c, s) in self.rows.iter().filter(|(c, _)| c.spec == spec) {
                let _ = writeln!(out, "| {} | {} | {} | {} | {} | {} |", c.id, c.keywords().join(", "), s.cell(), self.judges(c.id), self.proofs(c.id), self.scenarios(c.id));
            }
        }
        out
    }

    fn render_open(&self, out: &mut String) {
        let list = |f: fn(&Status) -> bool| {
            let ids: Vec<&str> = self.rows.iter().filter(|(_, s)| f(s)).map(|(c, _)| c.id.as_str()).collect();
            format!("({}): {}", ids.len(), if ids.is_empty() { "none".into() } else { ids.join(", ") })
        };
        let _ = write!(
            out,
            "\n## Open: judgeable, not judged yet\n\n- no check yet {}\n- checked, no mutation test yet {}\n",
            list(|s| matches!(s, Status::OpenNoCheck(_))),
            list(|s| matches!(s, Status::OpenUnproven(_))),
        );
    }

    fn judges(&self, id: ClauseId) -> String {
        let mut vectors: BTreeMap<&str, usize> = BTreeMap::new();
        let mut cells = Vec::new();
        for e in self.found.evidence.get(&id).into_iter().flatten() {
            if e.kind == Kind::Vector {
                *vectors.entry(e.place.as_str()).or_default() += 1;
            } else {
                cells.push(format!("{}: `{}`", e.kind.label(), e.place));
            }
        }
        let vectors: Vec<String> = vectors.keys().map(|f| format!("`{f}`")).collect();
        if !vectors.is_empty() {
            cells.push(format!("golden vector: {}", vectors.join(", ")));
        }
        cells.join("<br>")
    }

    fn proofs(&self, id: ClauseId) -> String {
        let proofs = self.found.proving(id);
        let shown: Vec<String> = proofs.iter().take(2).map(|p| format!("`{}`", short(&p.place))).collect();
        match proofs.len() {
            0 => String::new(),
            n if n <= 2 => shown.join("<br>"),
            n => format!("{}<br>and {} more", shown.join("<br>"), n - 2),
        }
    }

    fn scenarios(&self, id: ClauseId) -> String {
        self.found.scenarios.get(&id).map(|s| s.iter().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default()
    }
}

/// `harness/checkers/tests/mutations.rs::f` -> `checkers/tests/mutations.rs::f`.
fn short(place: &str) -> &str {
    place.strip_prefix("harness/").unwrap_or(place)
}

const HEADER: &str = "# Clause coverage\n\n\
Generated by `just spec-coverage` (harness/coverage) from `docs/spec/*.md`, the code, the vectors and\n\
`docs/spec/not-judged.toml`; do not edit. `just test-spec-coverage` fails when this file is stale, a\n\
clause is unclassified, a not-observable clause is judged somewhere (stale reason), or an open clause is\n\
judged and proven (remove it from the open list).\n\n";

const LEGEND: &str = "
## How a clause is judged, and what proves it

A clause is *judged* when some judge cites it (its constant `clause::ROJ_VOTE_8` or the literal
`\"ROJ-VOTE-8\"`, in code, not comments or tests) and a mutation test of that judge's kind asserts
that a violation is caught with that clause ID:

| judge | where it is discovered | mutation test that proves it |
|---|---|---|
| capture check | `harness/checkers/src/**` (checker named from `fn name`), except `state.rs` and `testkit/`; `harness/capture/src/**` | a `#[test]` in `harness/checkers` or `harness/capture` citing the clause outside a statement asserting its absence (`assert_caught(.., clause::X, ..)`) |
| state-dump check | `harness/checkers/src/state.rs` | the same, in `harness/checkers` (`assert_reports(.., clause::X, ..)`) |
| oracle (one message) | `harness/oracle/src/**` except `clause.rs`; the `schema` checker reports its verdicts | an invalid golden vector with the clause, or a `#[test]` in `harness/oracle` asserting it |
| scenario step | a step's `clause` in `vectors/scenarios/*.toml`; `harness/lab/src/**` | a `#[test]` in `harness/lab` asserting it |
| run/certify check | `harness/cli/src/**` (certify's pre-checks, run's verdicts), `harness/report/src/contract.rs`, `harness/lab/src/certify.rs` | a `#[test]` in `harness/report`, `harness/cli` or `harness/lab` asserting it |
| golden vector | `vectors/*.json` entries with `\"verdict\": \"invalid\"` | itself (the oracle's golden tests assert its clause; the nodes' tests replay it) |

Tests that cite clauses without building a violation are not counted: `harness/oracle/tests/clauses.rs`
(the constants) and `golden.rs::every_single_message_clause_has_an_invalid_vector` (asks that the
vectors exist; the vectors are the mutations). *Scenarios* lists the scenarios whose `clauses` name the clause: what a case exercises, not a judge.
*Not observable*, *open* and *definition* come from `docs/spec/not-judged.toml`, each with its reason.
Every clause needs one of these or a proven judge, with or without a requirement keyword (*requires*
shows MUST, MUST NOT, SHOULD, SHOULD NOT, SHALL; much of the spec states obligations in the present
tense, `a node sends ...`, so a missing keyword exempts nothing).
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{Evidence, Proof};
    use ekc_oracle::clause;

    fn clause_of(id: ClauseId, text: &str) -> Clause {
        Clause { id, spec: "ek-roj.md", text: text.into() }
    }

    #[test]
    fn classification_and_its_problems() {
        let clauses = vec![
            clause_of(clause::ROJ_VOTE_8, "MUST"),
            clause_of(clause::ROJ_VOTE_9, "MUST"),
            clause_of(clause::ROJ_THR_1, "t(n) is"),
            clause_of(clause::ROJ_KV_3, "MUST"),
            clause_of(clause::ROJ_KV_2, "MUST"),
        ];
        let mut found = Found::default();
        found.evidence.entry(clause::ROJ_VOTE_8).or_default().insert(Evidence { kind: Kind::Capture, place: "c".into() });
        found.proofs.entry(clause::ROJ_VOTE_8).or_default().insert(Proof { origin: crate::evidence::Origin::Checkers, place: "t".into() });
        found.evidence.entry(clause::ROJ_KV_3).or_default().insert(Evidence { kind: Kind::Step, place: "s".into() });
        // A checkers test does not prove a scenario step.
        found.proofs.entry(clause::ROJ_KV_3).or_default().insert(Proof { origin: crate::evidence::Origin::Checkers, place: "t".into() });
        let ex = Exceptions {
            not_observable: [("ROJ-KV-3".to_string(), "r".to_string())].into(),
            open: [("ROJ-VOTE-8".to_string(), "o".to_string()), ("ROJ-NOPE-1".to_string(), "x".to_string())].into(),
            definition: [("ROJ-THR-1".to_string(), "d".to_string())].into(),
        };
        let cov = classify(&clauses, &found, &ex);
        let statuses: Vec<&Status> = cov.rows.iter().map(|(_, s)| s).collect();
        assert_eq!(statuses, [&Status::Judged, &Status::Unclassified, &Status::Definition("d".into()), &Status::NotObservable("r".into()), &Status::Unclassified]);
        let p = cov.problems.join("\n");
        assert!(p.contains("ROJ-NOPE-1"), "{p}");
        assert!(p.contains("ROJ-VOTE-8 is judged and proven"), "{p}");
        assert!(p.contains("ROJ-KV-3 is marked not observable but is judged"), "{p}");
        assert!(p.contains("ROJ-VOTE-9 is unclassified"), "{p}");
        assert_eq!(cov.counts().last(), Some(&("unclassified", 2)));
    }
}
