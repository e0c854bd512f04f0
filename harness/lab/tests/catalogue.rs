//! Offline checks of the lab's declarations and renderers: the scenario catalogue parses and
//! covers what the suite promises, the image manifest hashes deterministically, the replayable
//! golden vectors load, and reports count verdicts correctly.
use ekc_lab::cluster::Implementation;
use ekc_lab::verdict::{CaseResult, Verdict};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn catalogue_parses_and_covers_the_promised_scenarios() {
    let all = ekc_lab::scenario::load_dir(&root().join("vectors/scenarios")).expect("catalogue loads");
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    for want in [
        "discovery", "single-commit", "concurrent-commits", "conflicting-proposals", "rejection", "crash-lock-release", "threshold",
        "capacity-pending", "capacity-keys", "gossip-reach", "hop-limit", "gap-repair", "anti-entropy", "lww-conflict", "commit-bridge",
        "restart", "invalid-input", "golden-vectors", "loss-commits", "dup-reorder", "partition-majority", "partition-no-quorum",
        "proposer-partitioned", "one-way-partition", "crash-restart-gossip", "vote-flood",
    ] {
        assert!(names.contains(&want), "scenario {want} missing from the catalogue");
    }
    let thr = all.iter().find(|s| s.name == "threshold").unwrap();
    assert_eq!(thr.sizes(), vec![3, 4, 5, 6, 7]);
    assert!(all.iter().any(|s| s.short), "no scenario is in the short CI selection");
    for s in &all {
        assert!(!s.clauses.is_empty(), "{} cites no clause", s.name);
    }
    // The fault scenarios are in the default matrix, cover every fault family the issue names, and
    // at least one runs in the short CI selection.
    let faulty: Vec<_> = all.iter().filter(|s| !s.faults.is_empty()).collect();
    assert!(faulty.iter().all(|s| s.default), "fault scenarios belong to the default matrix");
    assert!(faulty.iter().any(|s| s.short), "no fault scenario in the short CI selection");
    let kinds: std::collections::BTreeSet<&str> = faulty.iter().flat_map(|s| s.faults.iter().map(|f| f.fault.kind())).collect();
    for k in ["loss", "duplicate", "reorder", "partition", "partition_one_way", "kill", "restart"] {
        assert!(kinds.contains(k), "no default scenario applies a `{k}` fault");
    }
}

#[test]
fn bad_fault_declarations_are_refused() {
    let dir = std::env::temp_dir().join(format!("ekc-lab-badfault-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let head = "name='x'\nsummary=''\nclauses=['ROJ-SAFE-1']\ntimeout_s=5\nsize=3\n";
    let cases = [
        ("[[faults]]\nid='k'\nat_ms=0\nfault={kind='kill',node=1}\n[[steps]]\ndo='sleep'\nms=1\n", "process fault"),
        ("[[faults]]\nid='p'\nfault={kind='partition',groups=[[0],[7]]}\n[[steps]]\ndo='fault'\nid='p'\n", "not in a cluster of 3"),
        ("[[faults]]\nid='p'\nfault={kind='loss',target={node=0,direction='egress'},model='random',percent=120}\n[[steps]]\ndo='fault'\nid='p'\n", "percentage"),
        ("[[faults]]\nid='p'\nfault={kind='pause',node=0}\n[[steps]]\ndo='fault'\nid='p'\n[[steps]]\ndo='heal'\nid='q'\n", "does not declare"),
        ("[[faults]]\nid='p'\nfault={kind='pause',node=0}\n[[steps]]\ndo='sleep'\nms=1\n", "no `fault` step"),
    ];
    for (body, want) in cases {
        std::fs::write(dir.join("a.toml"), format!("{head}{body}")).unwrap();
        let err = ekc_lab::scenario::load_dir(&dir).unwrap_err();
        assert!(format!("{err:#}").contains(want), "expected `{want}` in: {err:#}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn default_matrix_has_homogeneous_pairs_and_all_together() {
    let all: Vec<_> = ekc_lab::scenario::load_dir(&root().join("vectors/scenarios")).unwrap().into_iter().map(std::sync::Arc::new).collect();
    let impls: Vec<Implementation> = ["rust", "go", "c"].iter().map(|n| Implementation { name: n.to_string(), image: format!("x/{n}"), emulator: None, guest: false }).collect();
    let cases = ekc_lab::matrix::expand(&all, &impls, None, 1, 7);
    for mix in ["rust", "go", "c", "rust+go", "rust+c", "go+c", "rust+go+c"] {
        assert!(cases.iter().any(|c| c.id == format!("single-commit@{mix}")), "single-commit@{mix} missing");
    }
    let ids: std::collections::BTreeSet<_> = cases.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids.len(), cases.len(), "case ids must be unique");
    let again = ekc_lab::matrix::expand(&all, &impls, None, 1, 7);
    assert_eq!(cases.iter().map(|c| c.seed).collect::<Vec<_>>(), again.iter().map(|c| c.seed).collect::<Vec<_>>(), "seeds must replay");
}

#[test]
fn bad_scenarios_are_refused() {
    let dir = std::env::temp_dir().join(format!("ekc-lab-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.toml"), "name='x'\nsummary=''\nclauses=['ROJ-KV-1']\ntimeout_s=5\nsize=2\n[[steps]]\ndo='kill'\nnode=5\n").unwrap();
    let err = ekc_lab::scenario::load_dir(&dir).unwrap_err();
    assert!(format!("{err:#}").contains("addresses node 5"), "{err:#}");
    std::fs::write(dir.join("a.toml"), "name='x'\nsummary=''\nclauses=[]\ntimeout_s=5\n[[steps]]\ndo='teleport'\n").unwrap();
    assert!(ekc_lab::scenario::load_dir(&dir).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn image_hashes_are_deterministic_and_cover_inputs() {
    let decls = ekc_lab::images::load_manifest(&root()).unwrap();
    let helper = decls.iter().find(|d| d.name == "ekconform/helper:dev").expect("helper image declared");
    let (h1, n1) = ekc_lab::images::content_hash(&root(), helper).unwrap();
    let (h2, _) = ekc_lab::images::content_hash(&root(), helper).unwrap();
    assert_eq!(h1, h2);
    assert!(n1 >= 3, "helper inputs: {n1} files");
    let mut other = helper.clone();
    other.inputs.pop();
    assert_ne!(ekc_lab::images::content_hash(&root(), &other).unwrap().0, h1, "dropping an input must change the hash");
}

#[test]
fn golden_vectors_load_with_silence_first() {
    let v = ekc_lab::vectors::load(&root().join("vectors")).unwrap();
    assert!(v.len() > 50, "only {} replayable vectors", v.len());
    let first_alive = v.iter().position(|x| !x.expect_silence).unwrap_or(v.len());
    assert!(v[first_alive..].iter().all(|x| !x.expect_silence), "silence vectors must come first");
    // The fuzz findings are replayed too; an invalid control request must be refused.
    let dup = v.iter().find(|x| x.id == "fuzz-ctl-duplicate-member").expect("fuzz findings are replayed");
    assert!(dup.port == "ctl" && dup.expect_bad_request && !dup.expect_silence, "{dup:?}");
    assert!(v.iter().filter(|x| x.id.starts_with("fuzz-roj")).all(|x| x.expect_silence && !x.expect_bad_request));
    assert!(ekc_lab::vectors::is_bad_request(br#"{"id":0,"ok":false,"error":"bad_request","detail":"x"}"#));
    assert!(!ekc_lab::vectors::is_bad_request(br#"{"id":1,"ok":false,"error":"unsupported","detail":"x"}"#));
    assert!(!ekc_lab::vectors::is_bad_request(br#"{"id":1,"ok":true,"result":{}}"#));
    assert!(!ekc_lab::vectors::is_bad_request(b"bad_request"));
}

#[test]
fn reports_count_verdicts() {
    let mk = |id: &str, v: Verdict, repeat: u32| CaseResult {
        id: id.into(), scenario: id.split('@').next().unwrap().into(), mix: id.split('@').nth(1).unwrap().into(), size: 3, repeat, seed: 1,
        verdict: v, clause: None, reason: "r".into(), step_failure: None, capture_judged: true, clauses: vec![], findings: vec![], nodes: vec![], seconds: 1.0, phases: vec![],
        metrics: serde_json::json!({}), dir: "cases/x".into(),
    };
    let rs = vec![mk("a@rust", Verdict::Pass, 0), mk("a@rust", Verdict::Fail, 1), mk("b@go", Verdict::NotApplicable, 0), mk("c@go", Verdict::Error, 0)];
    let s = ekc_lab::report::summarize(&rs);
    assert_eq!((s["pass"].as_u64(), s["fail"].as_u64(), s["not_applicable"].as_u64(), s["error"].as_u64()), (Some(1), Some(1), Some(1), Some(1)));
    let rates = ekc_lab::report::pass_rates(&rs);
    assert_eq!(rates["a@rust"]["rate"].as_f64(), Some(0.5));
    let meta = serde_json::json!({"run_id": "r", "seed": 1, "repeat": 2, "suite_version": "0.1.0", "wall_seconds": 3.0});
    let x = ekc_lab::report::junit(&meta, &rs);
    assert!(x.contains("tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\""), "{x}");
    let md = ekc_lab::report::markdown(&meta, &rs);
    assert!(md.contains("| a | ✗ 1/2 |"), "{md}");
}

#[test]
fn the_emulated_node_joins_the_default_matrix_as_a_guest() {
    let all: Vec<_> = ekc_lab::scenario::load_dir(&root().join("vectors/scenarios")).unwrap().into_iter().filter(|s| s.default).map(std::sync::Arc::new).collect();
    let imp = |n: &str, guest: bool| Implementation { name: n.to_string(), image: format!("x/{n}"), emulator: None, guest };
    let natives = vec![imp("rust", false), imp("go", false), imp("c", false)];
    let mut impls = natives.clone();
    impls.push(imp("mcu", true));
    let cases = ekc_lab::matrix::expand(&all, &impls, None, 1, 7);
    let ids: std::collections::BTreeSet<_> = cases.iter().map(|c| c.id.as_str()).collect();
    // A scenario runs an mcu node exactly where the guest fits: its own cluster (homogeneous mixes,
    // at most 3 nodes) or the all-implementations cluster (mixed ones, at least 4 nodes).
    for s in &all {
        let homogeneous = ekc_lab::matrix::mixes(&natives, s.mixes).iter().any(|m| m.members.len() == 1);
        let fits = s.sizes().iter().any(|&n| (homogeneous && n <= 3) || (s.mixes != ekc_lab::scenario::Mixes::Homogeneous && n >= 4));
        let runs = cases.iter().any(|c| c.scenario.name == s.name && c.composition().iter().any(|i| i.name == "mcu"));
        assert_eq!(runs, fits, "{}: runs an mcu node {runs}, the guest rule says {fits}", s.name);
    }
    for want in ["single-commit@mcu", "restart@mcu", "restart-persist@rust+go+c+mcu", "concurrent-commits@rust+go+c+mcu", "threshold/n7@rust+go+c+mcu"] {
        assert!(ids.contains(want), "{want} missing");
    }
    for absent in ["concurrent-commits@mcu", "single-commit@rust+go+c+mcu", "single-commit@go+mcu"] {
        assert!(!ids.contains(absent), "{absent} must not be in the default matrix");
    }
    // The native matrix is unchanged, and the guest adds at most a quarter to it (the time budget).
    let native = ekc_lab::matrix::expand(&all, &natives, None, 1, 7);
    assert!(native.iter().all(|c| ids.contains(c.id.as_str())));
    assert!((cases.len() - native.len()) * 4 <= native.len(), "{} guest cases on {} native ones", cases.len() - native.len(), native.len());
    let decls = ekc_lab::images::load_manifest(&root()).unwrap();
    let mcu = decls.iter().find(|d| d.implementation.as_deref() == Some("mcu")).expect("the mcu image is in docker/images.toml");
    assert_eq!((mcu.name.as_str(), mcu.recipe.as_deref()), ("ekconform/node-mcu:dev", Some("image-node-mcu")));
}
