//! The C node's mDNS packet parser (ekc_mdns_on_packet, RFC 6762 answers and queries for
//! `_roj._udp.local`) under ASan/UBSan: no crash, no out-of-bounds access, bounded output.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ekc_fuzz::c_node::mdns(data);
});
