//! ROJ-DISC-1 judgement of mDNS announcements used by the certify pre-check.
use ekc_checkers::testkit::encode::mdns_response;
use ekc_report::contract::{judge_announcement, parse_roj_instances, roj_query};

#[test]
fn testkit_announcement_is_parsed_and_judged() {
    let pkt = mdns_response("vendor-1", 7, "10.0.0.9".parse().unwrap(), &[]);
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

#[test]
fn a_wrong_announcement_fails_the_discovery_step_roj_disc_1() {
    use ekc_report::contract::discovery_step;
    let pkt = mdns_response("vendor-1", 7, "10.0.0.9".parse().unwrap(), &[]);
    let a = &parse_roj_instances(&pkt)[0];
    let wrong_module = discovery_step(Ok(judge_announcement(a, "vendor-1", 8, 9990, 9991)));
    assert_eq!((wrong_module.clause.as_str(), wrong_module.pass), ("ROJ-DISC-1", false));
    assert!(wrong_module.detail.contains("mod="), "{}", wrong_module.detail);
    let deaf = discovery_step(Err("binding UDP 5353: in use".into()));
    assert_eq!((deaf.clause.as_str(), deaf.pass), ("ROJ-DISC-1", false));
    assert!(discovery_step(Ok(vec![])).pass);
}

#[test]
fn a_stated_capability_the_node_does_not_claim_fails_ctl_cap_5() {
    use ekc_report::contract::statement_step;
    let s = |v: &[&str]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let short = statement_step(&s(&["roj", "kor", "ctl", "persist"]), &s(&["roj", "kor", "ctl"]));
    assert_eq!((short.clause.as_str(), short.pass), ("CTL-CAP-5", false));
    assert!(short.detail.contains("persist"), "{}", short.detail);
    assert!(statement_step(&s(&["roj", "kor"]), &s(&["roj", "kor", "ctl", "mdns"])).pass);
}
