//! Certification bundles: manifest, reproducible archive, and verification that notices a changed,
//! missing or added file in the directory and in the archive.
use ekc_report::bundle::{create_bundle, tree_hash, verify_bundle, BundleInput, MANIFEST};
use serde_json::json;

fn make(root: &std::path::Path, name: &str) -> ekc_report::bundle::Bundle {
    let run = root.join("run-src");
    if !run.exists() {
        std::fs::create_dir_all(run.join("cases/0001")).unwrap();
        std::fs::write(run.join("results.json"), r#"{"cases":[]}"#).unwrap();
        std::fs::write(run.join("cases/0001/capture.pcap"), [0xd4u8, 0xc3, 0xb2, 0xa1, 1, 2, 3]).unwrap();
        std::fs::write(root.join("caps.json"), r#"{"caps":["roj","kor"]}"#).unwrap();
    }
    let input = BundleInput { run_dir: Some(&run), capabilities: Some(&root.join("caps.json")), pins: json!({"suite_version":"0.1.0","seeds":[1,2]}), extra: vec![] };
    create_bundle(&root.join(name), &input).unwrap()
}

#[test]
fn bundle_verifies_and_detects_tampering() {
    let d = tempfile::tempdir().unwrap();
    let b = make(d.path(), "bundle");
    assert_eq!(b.files, 5, "results, capture, capabilities, bundle.json, manifest");
    let v = verify_bundle(&b.dir).unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!(v.checked, 4);
    assert_eq!(v.pins.unwrap()["seeds"], json!([1, 2]));
    assert!(verify_bundle(&b.archive).unwrap().ok());
    let manifest = std::fs::read_to_string(b.dir.join(MANIFEST)).unwrap();
    assert!(manifest.contains("  run/cases/0001/capture.pcap\n") && manifest.contains("  capabilities.json\n"));

    // Reproducible: a second bundle of the same input has the same archive bytes.
    let b2 = make(d.path(), "bundle2");
    let strip = |p: &std::path::Path| std::fs::read(p).unwrap().len();
    assert_eq!(strip(&b.archive), strip(&b2.archive));
    assert_eq!(tree_hash(&b.dir).unwrap(), tree_hash(&b2.dir).unwrap());

    std::fs::write(b.dir.join("run/results.json"), r#"{"cases":[1]}"#).unwrap();
    std::fs::write(b.dir.join("extra.txt"), "x").unwrap();
    std::fs::remove_file(b.dir.join("capabilities.json")).unwrap();
    let v = verify_bundle(&b.dir).unwrap();
    assert!(!v.ok());
    assert_eq!(v.mismatched, vec!["run/results.json"]);
    assert_eq!(v.missing, vec!["capabilities.json"]);
    assert_eq!(v.unlisted, vec!["extra.txt"]);

    // A corrupted archive is an error or a failed verification, never a pass.
    let mut bytes = std::fs::read(&b.archive).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&b.archive, &bytes).unwrap();
    assert!(verify_bundle(&b.archive).map(|v| !v.ok()).unwrap_or(true));
    assert!(create_bundle(&b.dir, &BundleInput { run_dir: None, capabilities: None, pins: json!({}), extra: vec![] }).is_err(), "never overwrites");
}
