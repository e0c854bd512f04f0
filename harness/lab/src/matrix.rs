//! The implementation matrix: which cluster mixes a scenario runs on (every implementation
//! alone, every pair, all together), and the expansion of scenarios x sizes x mixes x repeats
//! into test cases with their own seeds. A *guest* implementation (the default matrix's emulated
//! node) is added on top of the others instead of being multiplied into every pair, which would
//! grow the matrix by half again for one implementation.
use crate::cluster::Implementation;
use crate::scenario::{Mixes, Scenario};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Mix {
    pub name: String,
    pub members: Vec<Implementation>,
}

/// Every homogeneous mix, every pair and the all-together mix (when there are 3 or more).
pub fn mixes(impls: &[Implementation], which: Mixes) -> Vec<Mix> {
    let mut out = Vec::new();
    let single = |i: &Implementation| Mix { name: i.name.clone(), members: vec![i.clone()] };
    if matches!(which, Mixes::All | Mixes::Homogeneous) {
        out.extend(impls.iter().map(single));
    }
    if matches!(which, Mixes::All | Mixes::Mixed) {
        for a in 0..impls.len() {
            for b in a + 1..impls.len() {
                out.push(Mix { name: format!("{}+{}", impls[a].name, impls[b].name), members: vec![impls[a].clone(), impls[b].clone()] });
            }
        }
        if impls.len() >= 3 {
            out.push(all_together(impls));
        }
    }
    if which == Mixes::Together {
        out.push(if impls.len() == 1 { single(&impls[0]) } else { all_together(impls) });
    }
    if which == Mixes::AloneAndTogether {
        out.extend(impls.iter().map(single));
        if impls.len() >= 2 {
            out.push(all_together(impls));
        }
    }
    out
}

fn all_together(impls: &[Implementation]) -> Mix {
    Mix { name: impls.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join("+"), members: impls.to_vec() }
}

#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub scenario: Arc<Scenario>,
    pub size: usize,
    pub mix: Mix,
    pub repeat: u32,
    pub seed: u64,
}

impl Case {
    /// Cluster composition: implementations of the mix assigned round-robin.
    pub fn composition(&self) -> Vec<Implementation> {
        (0..self.size).map(|i| self.mix.members[i % self.mix.members.len()].clone()).collect()
    }
}

/// FNV-1a 64 of a string: stable per-case seeds derived from the run seed.
pub fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Largest homogeneous cluster a guest runs in: its mixed cluster covers the larger scenarios.
pub const GUEST_HOMOGENEOUS_MAX: usize = 3;

/// The mixes of one scenario size: the usual ones over the non-guest implementations, then per
/// guest its homogeneous cluster (where the scenario has homogeneous mixes and the size is at most
/// [`GUEST_HOMOGENEOUS_MAX`]) and the cluster of every non-guest plus the guest (where the
/// scenario has mixed clusters). A mix with more members than nodes is left out: its name would
/// promise an implementation the cluster does not contain.
pub fn mixes_for(impls: &[Implementation], which: Mixes, size: usize) -> Vec<Mix> {
    let hosts: Vec<Implementation> = impls.iter().filter(|i| !i.guest).cloned().collect();
    let mut out = if hosts.is_empty() { Vec::new() } else { mixes(&hosts, which) };
    let has_single = out.iter().any(|m| m.members.len() == 1) || (hosts.is_empty() && which != Mixes::Mixed);
    let has_multi = which != Mixes::Homogeneous;
    for g in impls.iter().filter(|i| i.guest) {
        if has_single && (size <= GUEST_HOMOGENEOUS_MAX || hosts.is_empty()) {
            out.push(Mix { name: g.name.clone(), members: vec![g.clone()] });
        }
        if has_multi && !hosts.is_empty() {
            let mut members = hosts.clone();
            members.push(g.clone());
            out.push(all_together(&members));
        }
    }
    out.retain(|m| m.members.len() <= size);
    out
}

/// The mixes containing `focus` (a vendor under certification) for one scenario size, and the
/// ones left out with why. A mix with more implementations than the cluster has nodes is left
/// out; when that leaves no mixed cluster (or none at all), the focus runs in the largest mixed
/// cluster that fits instead (itself and the first others of the largest mix), so that every
/// scenario runs for the focus, and in a mixed cluster wherever the scenario has one.
pub fn focus_mixes(impls: &[Implementation], focus: &str, which: Mixes, size: usize) -> (Vec<Mix>, Vec<(String, String)>) {
    let with_focus: Vec<Mix> = mixes(impls, which).into_iter().filter(|m| m.members.iter().any(|i| i.name == focus)).collect();
    let (mut fit, too_big): (Vec<Mix>, Vec<Mix>) = with_focus.into_iter().partition(|m| m.members.len() <= size);
    let substitute = match (fit.iter().any(|m| m.members.len() > 1), too_big.iter().max_by_key(|m| m.members.len()), impls.iter().find(|i| i.name == focus)) {
        (false, Some(big), Some(me)) if size >= 2 => {
            let mut members = vec![me.clone()];
            members.extend(big.members.iter().filter(|i| i.name != focus).take(size - 1).cloned());
            Some(Mix { name: members.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join("+"), members })
        }
        _ => None,
    };
    let instead = substitute.as_ref().map(|m| format!("; runs as {} instead", m.name)).unwrap_or_default();
    let mut left_out: Vec<(String, String)> = too_big.iter().map(|m| (m.name.clone(), format!("{} implementations do not fit a cluster of {size} nodes{instead}", m.members.len()))).collect();
    fit.extend(substitute);
    if fit.is_empty() {
        left_out.push((focus.to_string(), format!("the scenario runs only in `{which:?}` mixes and none with {focus} fits a cluster of {size} (are the reference images missing?)")));
    }
    (fit, left_out)
}

pub fn expand(scenarios: &[Arc<Scenario>], impls: &[Implementation], mix_filter: Option<&[String]>, repeat: u32, seed: u64) -> Vec<Case> {
    expand_with(scenarios, repeat, seed, |s, size| {
        mixes_for(impls, s.mixes, size).into_iter().filter(|m| mix_filter.is_none_or(|f| f.iter().any(|n| *n == m.name))).collect()
    })
}

/// The cases of every scenario in the mixes that contain `focus` ([`focus_mixes`]).
pub fn expand_focused(scenarios: &[Arc<Scenario>], impls: &[Implementation], focus: &str, repeat: u32, seed: u64) -> Vec<Case> {
    expand_with(scenarios, repeat, seed, |s, size| focus_mixes(impls, focus, s.mixes, size).0)
}

fn expand_with(scenarios: &[Arc<Scenario>], repeat: u32, seed: u64, mixes_of: impl Fn(&Scenario, usize) -> Vec<Mix>) -> Vec<Case> {
    let mut out = Vec::new();
    for r in 0..repeat.max(1) {
        for s in scenarios {
            for size in s.sizes() {
                for mix in mixes_of(s, size) {
                    let sized = if s.sizes.is_some() { format!("{}/n{size}", s.name) } else { s.name.clone() };
                    let id = format!("{sized}@{}", mix.name);
                    let case_seed = fnv(&format!("{seed}/{id}/{r}"));
                    out.push(Case { id, scenario: s.clone(), size, mix: mix.clone(), repeat: r, seed: case_seed });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imp(n: &str) -> Implementation {
        Implementation { name: n.into(), image: format!("x/{n}"), emulator: None, guest: false }
    }

    fn guest(n: &str) -> Implementation {
        Implementation { guest: true, ..imp(n) }
    }

    fn names(m: &[Mix]) -> Vec<&str> {
        m.iter().map(|m| m.name.as_str()).collect()
    }

    #[test]
    fn a_guest_runs_alone_in_small_clusters_and_with_everyone_else() {
        let impls = [imp("rust"), imp("go"), imp("c"), guest("mcu")];
        assert_eq!(names(&mixes_for(&impls, Mixes::All, 3)), ["rust", "go", "c", "rust+go", "rust+c", "go+c", "rust+go+c", "mcu"]);
        assert_eq!(names(&mixes_for(&impls, Mixes::All, 4)), ["rust", "go", "c", "rust+go", "rust+c", "go+c", "rust+go+c", "rust+go+c+mcu"]);
        assert_eq!(names(&mixes_for(&impls, Mixes::Homogeneous, 3)), ["rust", "go", "c", "mcu"]);
        assert_eq!(names(&mixes_for(&impls, Mixes::Together, 5)), ["rust+go+c", "rust+go+c+mcu"]);
        // Without guests nothing changes.
        let natives = [imp("rust"), imp("go"), imp("c")];
        assert_eq!(names(&mixes_for(&natives, Mixes::All, 3)), names(&mixes(&natives, Mixes::All)));
        // A guest alone is simply homogeneous, at any size.
        assert_eq!(names(&mixes_for(&[guest("mcu")], Mixes::Together, 7)), ["mcu"]);
        assert_eq!(names(&mixes_for(&[imp("go"), guest("mcu")], Mixes::All, 3)), ["go", "mcu", "go+mcu"]);
    }

    #[test]
    fn no_mix_names_an_implementation_its_cluster_lacks() {
        let impls = [imp("rust"), imp("go"), imp("c"), imp("mcu")];
        let m = mixes_for(&impls, Mixes::All, 3);
        assert!(m.iter().all(|m| m.members.len() <= 3), "{:?}", names(&m));
        assert!(!names(&m).contains(&"rust+go+c+mcu"));
        for mix in m {
            let c = Case { id: "x".into(), scenario: Arc::new(toml::from_str("name='x'\nsummary=''\nclauses=[]\ntimeout_s=1\nsteps=[]").unwrap()), size: 3, mix: mix.clone(), repeat: 0, seed: 1 };
            for member in &mix.members {
                assert!(c.composition().iter().any(|i| i.name == member.name), "{} lacks {}", mix.name, member.name);
            }
        }
    }

    #[test]
    fn three_implementations_give_seven_mixes() {
        let m = mixes(&[imp("rust"), imp("go"), imp("c")], Mixes::All);
        let names: Vec<_> = m.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["rust", "go", "c", "rust+go", "rust+c", "go+c", "rust+go+c"]);
        assert_eq!(mixes(&[imp("rust"), imp("go")], Mixes::Mixed).len(), 1);
        assert_eq!(mixes(&[imp("rust")], Mixes::Mixed).len(), 0);
        assert_eq!(mixes(&[imp("rust")], Mixes::Together)[0].name, "rust");
        let names: Vec<_> = mixes(&[imp("rust"), imp("go"), imp("c")], Mixes::AloneAndTogether).into_iter().map(|m| m.name).collect();
        assert_eq!(names, ["rust", "go", "c", "rust+go+c"]);
        assert_eq!(mixes(&[imp("rust")], Mixes::AloneAndTogether).len(), 1);
    }

    #[test]
    fn composition_is_round_robin_and_seeds_differ() {
        let c = Case { id: "x".into(), scenario: Arc::new(toml::from_str("name='x'\nsummary=''\nclauses=[]\ntimeout_s=1\nsteps=[]").unwrap()), size: 5, mix: mixes(&[imp("a"), imp("b")], Mixes::Mixed)[0].clone(), repeat: 0, seed: 1 };
        let names: Vec<_> = c.composition().iter().map(|i| i.name.clone()).collect();
        assert_eq!(names, ["a", "b", "a", "b", "a"]);
        assert_ne!(fnv("1/x/0"), fnv("1/x/1"));
    }

    #[test]
    fn a_focus_runs_every_scenario_in_some_mix_that_fits() {
        let impls = [imp("vendor"), imp("rust"), imp("go"), imp("c")];
        // Together at size 3 (fault-kinds, threshold/n3): the 4-implementation mix does not fit.
        let (m, left) = focus_mixes(&impls, "vendor", Mixes::Together, 3);
        assert_eq!(names(&m), ["vendor+rust+go"]);
        assert_eq!(left, [("vendor+rust+go+c".to_string(), "4 implementations do not fit a cluster of 3 nodes; runs as vendor+rust+go instead".to_string())]);
        let (m, left) = focus_mixes(&impls, "vendor", Mixes::Together, 5);
        assert_eq!((names(&m), left.len()), (vec!["vendor+rust+go+c"], 0));
        // alone+together at size 3 (vote-flood, clock-skew-lww): alone, and in the largest mixed
        // cluster that fits instead of the 4-implementation one.
        let (m, left) = focus_mixes(&impls, "vendor", Mixes::AloneAndTogether, 3);
        assert_eq!(names(&m), ["vendor", "vendor+rust+go"]);
        assert_eq!(left.len(), 1);
        // Homogeneous only: the vendor alone, nothing left out.
        let (m, left) = focus_mixes(&impls, "vendor", Mixes::Homogeneous, 3);
        assert_eq!((names(&m), left.len()), (vec!["vendor"], 0));
        let (m, _) = focus_mixes(&impls, "vendor", Mixes::All, 2);
        assert_eq!(names(&m), ["vendor", "vendor+rust", "vendor+go", "vendor+c"]);
        assert!(m.iter().all(|m| m.members.iter().any(|i| i.name == "vendor")));
        // Mixed only, without reference nodes: nothing can run, and it says so.
        let (m, left) = focus_mixes(&[imp("vendor")], "vendor", Mixes::Mixed, 3);
        assert!(m.is_empty() && left.len() == 1, "{left:?}");
    }

    #[test]
    fn every_default_scenario_runs_for_a_focus() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors/scenarios");
        let all: Vec<Arc<Scenario>> = crate::scenario::load_dir(&dir).unwrap().into_iter().filter(|s| s.default).map(Arc::new).collect();
        let impls = [imp("vendor"), imp("rust"), imp("go"), imp("c")];
        let cases = expand_focused(&all, &impls, "vendor", 1, 1);
        for s in &all {
            for size in s.sizes() {
                assert!(cases.iter().any(|c| c.scenario.name == s.name && c.size == size), "{}/n{size} does not run for the vendor", s.name);
                if s.mixes != Mixes::Homogeneous && size >= 2 {
                    assert!(cases.iter().any(|c| c.scenario.name == s.name && c.size == size && c.mix.members.len() > 1), "{}/n{size} never runs for the vendor in a mixed cluster", s.name);
                }
            }
        }
        assert!(cases.iter().all(|c| c.mix.members.len() <= c.size && c.composition().iter().any(|i| i.name == "vendor")));
    }
}
