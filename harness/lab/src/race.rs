//! Whether a race a scenario meant to provoke (`race` steps) happened: read from the capture,
//! the proposal windows of distinct proposers on the raced key must overlap. A window runs from
//! the first sighting of a PROPOSE to the first COMMIT or ABORT of its pid (open when none
//! follows). A race that did not happen means the case did not test what it claims: an error.
use std::path::Path;

/// One proposal on the raced key, as the capture shows it (times in ns since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub proposer: String,
    pub pid: String,
    pub start_ns: u64,
    /// First COMMIT or ABORT of the pid; `None`: never ended within the capture.
    pub end_ns: Option<u64>,
}

/// The first two windows of distinct proposers that overlap (each began before the other ended).
pub fn overlapping(ws: &[Window]) -> Option<(&Window, &Window)> {
    let ends_after = |w: &Window, t: u64| w.end_ns.is_none_or(|e| e > t);
    for (i, a) in ws.iter().enumerate() {
        for b in &ws[i + 1..] {
            if a.proposer != b.proposer && ends_after(a, b.start_ns) && ends_after(b, a.start_ns) {
                return Some((a, b));
            }
        }
    }
    None
}

/// Why the race on `key` did not happen, or `None` when two windows overlapped.
pub fn missed(ws: &[Window], key: &str) -> Option<String> {
    if overlapping(ws).is_some() {
        return None;
    }
    let shown: Vec<String> = ws
        .iter()
        .map(|w| format!("{} {} [{} ms, {}]", w.proposer, w.pid, w.start_ns / 1_000_000, w.end_ns.map(|e| format!("{} ms", e / 1_000_000)).unwrap_or_else(|| "open".into())))
        .collect();
    Some(format!("the race on `{key}` did not happen: no two proposers' windows overlap in the capture ({})", if shown.is_empty() { "no PROPOSE seen".into() } else { shown.join("; ") }))
}

/// The proposal windows on `key` in the capture at `pcap`, decoded by the checkers' trace (the
/// oracle's judgement of each EK-ROJ datagram).
#[cfg(feature = "checkers")]
pub fn windows(pcap: &Path, key: &str) -> Result<Vec<Window>, String> {
    use ekc_checkers::trace::{decode, Body, Ports};
    use ekc_checkers::wire::RojBody;
    use std::collections::BTreeMap;
    let ports = Ports { roj: crate::cluster::ROJ_PORT, kor: crate::cluster::KOR_PORT, ctl: crate::cluster::CTL_PORT };
    let mut starts: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut ends: BTreeMap<String, u64> = BTreeMap::new();
    ekc_checkers::ingest::read_capture(pcap, |d| {
        if d.dst.port() != ports.roj {
            return;
        }
        let Body::Roj(m) = decode(d, ports).body else { return };
        match m.body {
            RojBody::Propose(p) if p.key == key => {
                starts.entry(p.pid).or_insert((m.node_id, d.ts_ns));
            }
            RojBody::Commit(c) => {
                ends.entry(c.pid).or_insert(d.ts_ns);
            }
            RojBody::Abort(a) => {
                ends.entry(a.pid).or_insert(d.ts_ns);
            }
            _ => {}
        }
    })
    .map_err(|e| e.to_string())?;
    let mut ws: Vec<Window> = starts.into_iter().map(|(pid, (proposer, start_ns))| Window { end_ns: ends.get(&pid).copied(), proposer, pid, start_ns }).collect();
    ws.sort_by_key(|w| w.start_ns);
    Ok(ws)
}

#[cfg(not(feature = "checkers"))]
pub fn windows(_pcap: &Path, _key: &str) -> Result<Vec<Window>, String> {
    Err("this build has no checkers: the race cannot be read from the capture".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(p: &str, start: u64, end: Option<u64>) -> Window {
        Window { proposer: p.into(), pid: format!("{p}:1:{start}"), start_ns: start * 1_000_000, end_ns: end.map(|e| e * 1_000_000) }
    }

    #[test]
    fn sequential_proposals_are_no_race() {
        // b proposes only after a committed: the second proposal saw a free key.
        let ws = [w("a", 0, Some(40)), w("b", 45, Some(90)), w("c", 95, None)];
        let why = missed(&ws, "race").expect("no overlap");
        assert!(why.contains("did not happen") && why.contains("a a:1:0 [0 ms, 40 ms]"), "{why}");
        // A retry of the same proposer overlapping its own earlier pid is no race either.
        assert!(missed(&[w("a", 0, Some(40)), w("a", 10, None)], "k").is_some());
        assert!(missed(&[], "k").unwrap().contains("no PROPOSE seen"));
    }

    #[test]
    fn overlapping_windows_of_two_proposers_are_a_race() {
        let ws = [w("a", 0, Some(900)), w("b", 5, Some(910)), w("c", 2000, None)];
        let (x, y) = overlapping(&ws).unwrap();
        assert_eq!((x.proposer.as_str(), y.proposer.as_str()), ("a", "b"));
        assert!(missed(&ws, "race").is_none());
        // An open window overlaps anything that starts later.
        assert!(overlapping(&[w("a", 0, None), w("b", 5000, Some(5100))]).is_some());
        // Touching is not overlapping: b started exactly when a's COMMIT was seen.
        assert!(overlapping(&[w("a", 0, Some(40)), w("b", 40, None)]).is_none());
    }
}
