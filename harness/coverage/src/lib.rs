//! Clause coverage of the normative spec: for every clause of `docs/spec/*.md` (the oracle's
//! `clause::ALL`), the judges that cite it and the mutation tests that prove them, discovered from
//! the code ([`evidence`]), plus the hand-written reasons of `docs/spec/not-judged.toml`
//! ([`table`]). The `spec-coverage` binary writes `docs/spec/coverage.md` and the README's counts,
//! or (`--check`) fails when either is stale or a clause is unclassified.

pub mod evidence;
pub mod rust_src;
pub mod spec;
pub mod table;
