//! ROJ-DISC-1 judgement of mDNS announcements used by the certify pre-check.
use ekc_checkers::testkit::encode::mdns_response;
use ekc_report::contract::{judge_announcement, parse_roj_instances, roj_query};

#[test]
fn testkit_announcement_is_parsed_and_judged() {
    let pkt = mdns_response("vendor-1", 7, "10.0.0.9".parse().unwrap());
    let inst = parse_roj_instances(&pkt);
    assert_eq!(inst.len(), 1, "{inst:?}");
    let a = &inst[0];
    assert_eq!(a.txt.get("node").map(String::as_str), Some("vendor-1"));
    let problems = judge_announcement(a, "vendor-1", 7, 9990, 9991);
    // Whatever the testkit leaves out must be named precisely, and a wrong module id is caught.
    for p in &problems {
        assert!(p.starts_with("TXT key") || p.contains("SRV"), "unexpected problem {p}");
    }
    assert!(judge_announcement(a, "vendor-1", 8, 9990, 9991).iter().any(|p| p.contains("mod=")));
    assert!(judge_announcement(a, "other", 7, 9990, 9991).iter().any(|p| p.contains("instance name")));
    assert!(parse_roj_instances(b"garbage").is_empty());
    assert!(roj_query().len() > 12);
}
