//! Certification policy (`ekconform certify`): which capabilities are mandatory, which scenarios
//! a capability statement selects, which cases ran for the vendor and which did not (and why),
//! and whether the results certify. Not-applicable never counts toward a certificate: every case
//! selected by the statement must pass, and a minimum share of the scope must have been judged.
use crate::cluster::Implementation;
use crate::matrix;
use crate::scenario::Scenario;
use crate::verdict::Verdict;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The core protocols: a node that does not claim all of them cannot be certified (control.md
/// CTL-CAP-2: roj and kor are mandatory, ctl is mandatory for certification).
pub const MANDATORY: [&str; 3] = ["roj", "kor", "ctl"];

/// Least share of the scope's scenario instances (scenario x cluster size) whose vendor cases were
/// all judged (pass or fail, never not-applicable or error). A node claiming only the mandatory
/// capabilities reaches 29 of 33 instances of the default catalogue (88 %).
pub const MIN_JUDGED_SHARE: f64 = 0.75;

/// A scenario instance, or one of its mixes, that did not run for the vendor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotRun {
    pub scenario: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mix: Option<String>,
    pub why: String,
}

/// What certification will run.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Scenario instances in scope (`name` or `name/nN`).
    pub scope: Vec<String>,
    /// Names of the scenarios whose required capabilities the statement claims.
    pub selected: Vec<String>,
    pub not_run: Vec<NotRun>,
    /// Whether the scope is a named subset rather than the default catalogue.
    pub partial: bool,
}

fn instance(s: &Scenario, size: usize) -> String {
    if s.sizes.is_some() {
        format!("{}/n{size}", s.name)
    } else {
        s.name.clone()
    }
}

/// The plan for `scope` (the default catalogue, or the scenarios named with `-s`): a scenario is
/// selected when `caps` (the capability statement, or the node's claims without one) covers what
/// it requires; for each selected instance, the mixes with the vendor ([`matrix::focus_mixes`]).
pub fn plan(scope: &[Scenario], partial: bool, caps: &[String], impls: &[Implementation], vendor: &str) -> Plan {
    let mut p = Plan { scope: Vec::new(), selected: Vec::new(), not_run: Vec::new(), partial };
    for s in scope {
        p.scope.extend(s.sizes().into_iter().map(|n| instance(s, n)));
        let missing: Vec<&String> = s.requires.iter().filter(|c| !caps.contains(c)).collect();
        if !missing.is_empty() {
            p.not_run.push(NotRun { scenario: s.name.clone(), size: None, mix: None, why: format!("not selected: requires {missing:?}, which the capability statement does not claim") });
            continue;
        }
        p.selected.push(s.name.clone());
        for size in s.sizes() {
            for (mix, why) in matrix::focus_mixes(impls, vendor, s.mixes, size).1 {
                p.not_run.push(NotRun { scenario: instance(s, size), size: Some(size), mix: Some(mix), why });
            }
        }
    }
    p
}

/// One case as results.json records it (the fields certification reads).
#[derive(Debug, Clone, Deserialize)]
pub struct CaseVerdict {
    pub id: String,
    pub scenario: String,
    pub mix: String,
    pub verdict: Verdict,
}

impl CaseVerdict {
    /// The scenario instance of the case id (`threshold/n3@vendor+rust` -> `threshold/n3`).
    fn instance(&self) -> &str {
        self.id.split('@').next().unwrap_or(&self.id)
    }
    fn has(&self, vendor: &str) -> bool {
        self.mix.split('+').any(|m| m == vendor)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// `certified`, `passed (partial scope)` or `not certified`.
    pub verdict: String,
    /// Exit status of `certify`: 0 certified or partial scope passed, 1 otherwise.
    pub exit: u8,
    /// Why not (empty when certified).
    pub reasons: Vec<String>,
    pub mandatory: Vec<String>,
    pub judged_instances: usize,
    pub scope_instances: usize,
    pub judged_share: f64,
    pub min_judged_share: f64,
    /// Per case id: runs and verdicts (over repeats).
    pub ran: BTreeMap<String, Vec<Verdict>>,
}

/// Whether `cases` certify the vendor: the mandatory capabilities claimed, every selected
/// instance run for the vendor, every vendor case of a selected scenario passed (over every
/// repeat), and at least [`MIN_JUDGED_SHARE`] of the scope judged.
pub fn decide(plan: &Plan, caps: &[String], cases: &[CaseVerdict], vendor: &str) -> Decision {
    let mut reasons = Vec::new();
    let missing: Vec<&str> = MANDATORY.iter().copied().filter(|m| !caps.iter().any(|c| c == m)).collect();
    if !missing.is_empty() {
        reasons.push(format!("mandatory capabilities not claimed: {missing:?}"));
    }
    let mine: Vec<&CaseVerdict> = cases.iter().filter(|c| c.has(vendor)).collect();
    let mut ran: BTreeMap<String, Vec<Verdict>> = BTreeMap::new();
    for c in &mine {
        ran.entry(c.id.clone()).or_default().push(c.verdict);
    }
    let bad: Vec<String> = mine.iter().filter(|c| plan.selected.contains(&c.scenario) && c.verdict != Verdict::Pass).map(|c| format!("{} ({})", c.id, c.verdict.as_str())).collect();
    if !bad.is_empty() {
        reasons.push(format!("{} run(s) of cases selected by the capability statement did not pass: {}", bad.len(), bad.join(", ")));
    }
    let mut by_instance: BTreeMap<&str, Vec<Verdict>> = BTreeMap::new();
    for c in &mine {
        by_instance.entry(c.instance()).or_default().push(c.verdict);
    }
    let selected_instances: Vec<&String> = plan.scope.iter().filter(|i| plan.selected.iter().any(|s| i.split('/').next() == Some(s.as_str()))).collect();
    let absent: Vec<&&String> = selected_instances.iter().filter(|i| !by_instance.contains_key(i.as_str())).collect();
    if !absent.is_empty() {
        reasons.push(format!("selected scenarios that did not run for the vendor: {absent:?}"));
    }
    let judged = plan.scope.iter().filter(|i| by_instance.get(i.as_str()).is_some_and(|v| v.iter().all(|x| matches!(x, Verdict::Pass | Verdict::Fail)))).count();
    let share = if plan.scope.is_empty() { 0.0 } else { judged as f64 / plan.scope.len() as f64 };
    if share < MIN_JUDGED_SHARE {
        reasons.push(format!("only {judged} of {} scenario instances were judged ({:.0} %, minimum {:.0} %)", plan.scope.len(), share * 100.0, MIN_JUDGED_SHARE * 100.0));
    }
    let verdict = match (reasons.is_empty(), plan.partial) {
        (true, false) => "certified",
        (true, true) => "passed (partial scope: not a certificate of the catalogue)",
        (false, _) => "not certified",
    };
    Decision {
        verdict: verdict.into(),
        exit: if reasons.is_empty() { 0 } else { 1 },
        reasons,
        mandatory: MANDATORY.iter().map(|s| s.to_string()).collect(),
        judged_instances: judged,
        scope_instances: plan.scope.len(),
        judged_share: share,
        min_judged_share: MIN_JUDGED_SHARE,
        ran,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Vec<Scenario> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors/scenarios");
        crate::scenario::load_dir(&dir).unwrap().into_iter().filter(|s| s.default).collect()
    }

    fn impls() -> Vec<Implementation> {
        ["vendor", "rust", "go", "c"].iter().map(|n| Implementation { name: n.to_string(), image: format!("x/{n}"), emulator: None, guest: false }).collect()
    }

    fn caps(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    /// Every case the plan runs, with the verdict `v(case id)`.
    fn results(plan: &Plan, v: impl Fn(&str) -> Verdict) -> Vec<CaseVerdict> {
        let all: Vec<std::sync::Arc<Scenario>> = catalogue().into_iter().filter(|s| plan.selected.contains(&s.name)).map(std::sync::Arc::new).collect();
        matrix::expand_focused(&all, &impls(), "vendor", 1, 1).into_iter().map(|c| CaseVerdict { verdict: v(&c.id), id: c.id, scenario: c.scenario.name.clone(), mix: c.mix.name }).collect()
    }

    #[test]
    fn a_core_node_that_passes_everything_selected_is_certified() {
        let c = caps(&["roj", "kor", "ctl"]);
        let p = plan(&catalogue(), false, &c, &impls(), "vendor");
        assert!(p.not_run.iter().any(|n| n.scenario == "discovery" && n.why.contains("mdns")), "{:?}", p.not_run);
        assert!(p.not_run.iter().any(|n| n.scenario == "fault-kinds" && n.mix.as_deref() == Some("vendor+rust+go+c")), "the dropped mix is listed");
        let d = decide(&p, &c, &results(&p, |_| Verdict::Pass), "vendor");
        assert_eq!((d.verdict.as_str(), d.exit), ("certified", 0), "{:?}", d.reasons);
        assert!(d.judged_share >= MIN_JUDGED_SHARE && d.judged_share < 1.0, "{}", d.judged_share);
        assert!(d.ran.keys().any(|k| k.starts_with("fault-kinds@")) && d.ran.keys().any(|k| k.starts_with("threshold/n3@")));
    }

    #[test]
    fn not_applicable_never_certifies() {
        let c = caps(&["roj", "kor", "ctl"]);
        let p = plan(&catalogue(), false, &c, &impls(), "vendor");
        let d = decide(&p, &c, &results(&p, |_| Verdict::NotApplicable), "vendor");
        assert_eq!((d.verdict.as_str(), d.exit, d.judged_instances), ("not certified", 1, 0));
        // One not-applicable case among passes is enough to refuse.
        let d = decide(&p, &c, &results(&p, |id| if id.starts_with("lww-conflict@") { Verdict::NotApplicable } else { Verdict::Pass }), "vendor");
        assert_eq!(d.exit, 1, "{:?}", d.reasons);
        // So is a failure of CTL-CAP-3 (unsupported for a claimed capability: a fail).
        let d = decide(&p, &c, &results(&p, |id| if id.starts_with("single-commit@vendor+go") { Verdict::Fail } else { Verdict::Pass }), "vendor");
        assert!(d.reasons.iter().any(|r| r.contains("single-commit@vendor+go (fail)")), "{:?}", d.reasons);
    }

    #[test]
    fn mandatory_capabilities_and_a_judged_share_are_required() {
        let c = caps(&["roj", "ctl"]);
        let p = plan(&catalogue(), false, &c, &impls(), "vendor");
        let d = decide(&p, &c, &results(&p, |_| Verdict::Pass), "vendor");
        assert_eq!(d.exit, 1);
        assert!(d.reasons.iter().any(|r| r.contains("mandatory") && r.contains("kor")), "{:?}", d.reasons);
        // Cases that never ran: not certified, and the absent ones are named.
        let c = caps(&["roj", "kor", "ctl"]);
        let p = plan(&catalogue(), false, &c, &impls(), "vendor");
        let d = decide(&p, &c, &[], "vendor");
        assert!(d.reasons.iter().any(|r| r.contains("did not run") && r.contains("single-commit")), "{:?}", d.reasons);
    }

    #[test]
    fn a_named_subset_passes_but_never_certifies() {
        let c = caps(&["roj", "kor", "ctl"]);
        let scope: Vec<Scenario> = catalogue().into_iter().filter(|s| s.name == "single-commit").collect();
        let p = plan(&scope, true, &c, &impls(), "vendor");
        let d = decide(&p, &c, &results(&p, |_| Verdict::Pass), "vendor");
        assert_eq!(d.exit, 0);
        assert!(d.verdict.starts_with("passed (partial scope"), "{}", d.verdict);
        // A subset whose only scenario needs an unclaimed capability judges nothing.
        let scope: Vec<Scenario> = catalogue().into_iter().filter(|s| s.name == "discovery").collect();
        let p = plan(&scope, true, &c, &impls(), "vendor");
        assert_eq!(decide(&p, &c, &[], "vendor").exit, 1);
    }
}
