//! FFI to the C reference node's parsers (c-shim/ekc_fuzz_shim.c, compiled by build.rs).

use crate::Verdict;

extern "C" {
    fn ekc_fuzz_c_roj(data: *const u8, len: usize, out: *mut u8, cap: usize) -> i32;
    fn ekc_fuzz_c_kor(data: *const u8, len: usize, out: *mut u8, cap: usize) -> i32;
    fn ekc_fuzz_c_lww_newer(ts_a: u32, origin_a: u8, seq_a: u32, ts_b: u32, origin_b: u8, seq_b: u32) -> i32;
    fn ekc_fuzz_c_vv_summary(origins: *const u8, seqs: *const u32, count: usize, out: *mut u8);
    fn ekc_fuzz_c_mdns(data: *const u8, len: usize) -> i32;
    fn ekc_fuzz_c_ctl(data: *const u8, len: usize, out: *mut u8, cap: usize) -> i32;
}

fn call(f: unsafe extern "C" fn(*const u8, usize, *mut u8, usize) -> i32, data: &[u8]) -> Verdict {
    let mut out = [0u8; 2048];
    // SAFETY: the shim reads `len` bytes of `data` and writes a NUL-terminated line of at most `cap`.
    let accepted = unsafe { f(data.as_ptr(), data.len(), out.as_mut_ptr(), out.len()) } == 1;
    let end = out.iter().position(|&b| b == 0).unwrap_or(out.len());
    let line = String::from_utf8_lossy(&out[..end]).into_owned();
    if accepted { Verdict::accept(line) } else { Verdict::reject(format!("c invalid kind: {line}")) }
}

/// The C node's EK-ROJ receive-side parse (roj_parse), before any state is consulted.
pub fn roj(data: &[u8]) -> Verdict {
    call(ekc_fuzz_c_roj, data)
}

/// The C node's EK-KOR frame check (ekc_kor_frame_check).
pub fn kor(data: &[u8]) -> Verdict {
    call(ekc_fuzz_c_kor, data)
}

/// KOR-LWW-1 as the C node decides it: is `a` newer than `b`?
pub fn lww_newer(a: (u32, u8, u32), b: (u32, u8, u32)) -> bool {
    // SAFETY: plain values in, a flag out.
    unsafe { ekc_fuzz_c_lww_newer(a.0, a.1, a.2, b.0, b.1, b.2) == 1 }
}

/// KOR-GOS-2 `vv_summary` as the C node computes it, from entries ascending by origin.
pub fn vv_summary(entries: &[(u8, u32)]) -> [u8; 7] {
    let origins: Vec<u8> = entries.iter().map(|e| e.0).collect();
    let seqs: Vec<u32> = entries.iter().map(|e| e.1).collect();
    let mut out = [0u8; 7];
    // SAFETY: both arrays hold `count` elements; `out` holds 7 bytes.
    unsafe { ekc_fuzz_c_vv_summary(origins.as_ptr(), seqs.as_ptr(), entries.len(), out.as_mut_ptr()) };
    out
}

/// One packet into the C node's mDNS responder/browser; returns the peers it resolved.
pub fn mdns(data: &[u8]) -> i32 {
    // SAFETY: the shim reads `len` bytes.
    unsafe { ekc_fuzz_c_mdns(data.as_ptr(), data.len()) }
}

/// How the C node's `emit` begins the detail of a `bad_request` its core gives for an event it
/// refuses (ctl.c, after the request's args parsed).
const C_CORE_EVENT_REFUSAL: &str = "KOR-EVT-2/KOR-TYPE-1/BRIDGE-4:";

/// The C node's answer to one control request, from a freshly initialised node (its parser acts as
/// it parses, so the reply is the only verdict it exposes). `bad_request` is a rejection; any other
/// answer (ok, unsupported, or a state code such as busy) accepts the request, and only the reply's
/// id is known of what was decoded. A request left unanswered violates CTL-WIRE-3, so it is
/// rendered as an acceptance no other parser can match.
pub fn ctl(data: &[u8]) -> Verdict {
    let mut out = [0u8; 2048];
    // SAFETY: the shim reads `len` bytes of `data` and writes a NUL-terminated reply of at most `cap`.
    let answered = unsafe { ekc_fuzz_c_ctl(data.as_ptr(), data.len(), out.as_mut_ptr(), out.len()) } == 1;
    let end = out.iter().position(|&b| b == 0).unwrap_or(out.len());
    if !answered {
        return Verdict::accept("no reply (CTL-WIRE-3: every request is answered)".into());
    }
    let reply: serde_json::Value = match serde_json::from_slice(&out[..end]) {
        Ok(v) => v,
        Err(e) => return Verdict::accept(format!("reply is not JSON ({e}): {}", String::from_utf8_lossy(&out[..end]))),
    };
    let id = reply["id"].as_u64().map_or("none".to_owned(), |v| v.to_string());
    let detail = reply["detail"].as_str().unwrap_or("");
    match (reply["ok"].as_bool(), reply["error"].as_str()) {
        // The request parsed and the node core refused the event (KOR-EVT-2, KOR-TYPE-1, BRIDGE-4):
        // the Rust node refuses the same in its core, after its codec accepted the request.
        (Some(false), Some("bad_request")) if detail.starts_with(C_CORE_EVENT_REFUSAL) => {
            Verdict::accept_leading_fields(format!("id={id}"))
        }
        (Some(false), Some("bad_request")) => {
            Verdict::reject(format!("bad_request (id {id}): {detail}"))
        }
        (Some(true), None) | (Some(false), Some(_)) => Verdict::accept_leading_fields(format!("id={id}")),
        _ => Verdict::accept(format!("reply outside CTL-WIRE-2: {reply}")),
    }
}
