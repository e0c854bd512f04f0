//! IPv4 reassembly that never invents bytes. A datagram is handed on only when its fragments
//! cover every byte from 0 to the end given by the last fragment; a hole is never filled (the set
//! stays incomplete until it is discarded), and overlapping fragments must agree on every byte
//! they share, or the whole set is discarded as conflicting (which copy would the receiver have
//! kept? The capture cannot tell). Sets in flight are bounded by count, bytes and capture-time
//! age; whatever is discarded is counted by reason in [`IngestStats`].

use crate::IngestStats;
use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;

/// Bounds on fragment sets in flight. The defaults hold far more than a healthy capture needs
/// (EK-ROJ datagrams are rarely fragmented) and cap memory near 8 MiB whatever the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fragment sets in flight; the oldest is discarded to admit a new one.
    pub max_sets: usize,
    /// Fragment bytes held; the oldest sets are discarded to stay within it.
    pub max_bytes: usize,
    /// A set older than this (capture time since its first fragment) is discarded: Linux's
    /// reassembly timeout (`ipfrag_time`), after which no receiver still waits for it.
    pub max_age_ns: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_sets: 1024, max_bytes: 8 << 20, max_age_ns: 30_000_000_000 }
    }
}

/// Identity of a fragment set (RFC 791): source, destination, identification, protocol.
pub type SetKey = (Ipv4Addr, Ipv4Addr, u16, u8);

/// One fragment as the IPv4 header describes it.
#[derive(Debug, Clone, Copy)]
pub struct Fragment<'a> {
    pub frame: u64,
    pub ts_ns: u64,
    /// Byte offset of `payload` in the datagram.
    pub offset: usize,
    pub more: bool,
    pub payload: &'a [u8],
    /// The capture holds fewer bytes than the header says (snap length): unusable.
    pub cut: bool,
}

/// Why a set will never be handed on; kept so later fragments of it are absorbed quietly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spoiled {
    Cut,
    Conflict,
}

struct FragSet {
    generation: u64,
    first_frame: u64,
    first_ts: u64,
    /// (offset, bytes), in arrival order.
    parts: Vec<(usize, Vec<u8>)>,
    /// Datagram length, known once the last fragment (MF = 0) arrived.
    total: Option<usize>,
    bytes: usize,
    fragments: u64,
    spoiled: Option<Spoiled>,
}

/// IPv4 fragment sets in flight.
pub struct Defrag {
    limits: Limits,
    sets: HashMap<SetKey, FragSet>,
    /// Sets in order of their first fragment: (key, generation); stale entries are skipped.
    order: VecDeque<(SetKey, u64)>,
    bytes: usize,
    next_generation: u64,
    assembled: Vec<u8>,
}

/// The largest IPv4 payload: 65,535 bytes minus a 20-byte header.
const MAX_PAYLOAD: usize = 65_515;
/// Bookkeeping counted per held fragment beside its bytes.
const PART_OVERHEAD: usize = 64;

impl Defrag {
    pub fn new(limits: Limits) -> Defrag {
        Defrag { limits, sets: HashMap::new(), order: VecDeque::new(), bytes: 0, next_generation: 0, assembled: Vec::new() }
    }

    /// Sets in flight and bytes held (for tests and benchmarks of the bounds).
    pub fn held(&self) -> (usize, usize) {
        (self.sets.len(), self.bytes)
    }

    /// Adds a fragment; returns the whole datagram payload (the IP payload: UDP header onwards)
    /// when this fragment completed its set without a hole or a conflict.
    pub fn push(&mut self, key: SetKey, f: Fragment, stats: &mut IngestStats) -> Option<&[u8]> {
        stats.fragments += 1;
        self.expire(f.ts_ns, stats);
        if !self.sets.contains_key(&key) {
            self.admit(key, &f);
        }
        let set = self.sets.get_mut(&key).expect("admitted");
        set.fragments += 1;
        if set.spoiled.is_some() {
            stats.fragments_discarded += 1;
            return None;
        }
        match add_part(set, &f) {
            Ok(added) => self.bytes += added,
            Err(reason) => {
                self.spoil(key, reason, f.frame, stats);
                return None;
            }
        }
        let set = self.sets.get_mut(&key).expect("present");
        if !covers_all(set) {
            self.enforce_bounds(stats);
            return None;
        }
        let set = self.sets.remove(&key).expect("present");
        self.bytes -= set.bytes;
        self.assemble(&set);
        stats.reassembled_datagrams += 1;
        Some(&self.assembled)
    }

    fn admit(&mut self, key: SetKey, f: &Fragment) {
        let generation = self.next_generation;
        self.next_generation += 1;
        self.sets.insert(key, FragSet { generation, first_frame: f.frame, first_ts: f.ts_ns, parts: Vec::new(), total: None, bytes: 0, fragments: 0, spoiled: None });
        self.order.push_back((key, generation));
        if self.order.len() > 2 * self.sets.len() + 64 {
            let sets = &self.sets;
            self.order.retain(|(k, g)| sets.get(k).is_some_and(|s| s.generation == *g));
        }
    }

    /// Marks a set as never to be handed on and frees its bytes; its fragments count as
    /// discarded (the one that spoiled it included).
    fn spoil(&mut self, key: SetKey, reason: Spoiled, frame: u64, stats: &mut IngestStats) {
        let set = self.sets.get_mut(&key).expect("present");
        self.bytes -= set.bytes;
        set.bytes = 0;
        set.parts = Vec::new();
        set.spoiled = Some(reason);
        stats.fragments_discarded += set.fragments;
        match reason {
            Spoiled::Cut => stats.note_truncated(frame),
            Spoiled::Conflict => IngestStats::note(&mut stats.conflicting_fragment_sets, &mut stats.conflicting_fragment_examples, set.first_frame),
        }
    }

    /// Discards sets whose first fragment is older than the age bound.
    fn expire(&mut self, now: u64, stats: &mut IngestStats) {
        while let Some(&(key, generation)) = self.order.front() {
            match self.sets.get(&key) {
                Some(s) if s.generation == generation => {
                    if now.saturating_sub(s.first_ts) <= self.limits.max_age_ns {
                        return;
                    }
                    self.discard_front(stats, false);
                }
                _ => {
                    self.order.pop_front();
                }
            }
        }
    }

    fn enforce_bounds(&mut self, stats: &mut IngestStats) {
        while self.sets.len() > self.limits.max_sets || self.bytes > self.limits.max_bytes {
            if !self.discard_front(stats, true) {
                return;
            }
        }
    }

    /// Discards the oldest live set; returns false when there is none.
    fn discard_front(&mut self, stats: &mut IngestStats, over_limit: bool) -> bool {
        while let Some((key, generation)) = self.order.pop_front() {
            if self.sets.get(&key).is_some_and(|s| s.generation == generation) {
                let set = self.sets.remove(&key).expect("present");
                self.bytes -= set.bytes;
                if set.spoiled.is_none() {
                    stats.fragments_discarded += set.fragments;
                    stats.note_incomplete(set.first_frame);
                    if over_limit {
                        stats.fragment_sets_over_limit += 1;
                    }
                }
                return true;
            }
        }
        false
    }

    /// At the end of the capture: every set still in flight never completed.
    pub fn finish(&mut self, stats: &mut IngestStats) {
        while self.discard_front(stats, false) {}
    }

    fn assemble(&mut self, set: &FragSet) {
        let total = set.total.expect("complete");
        self.assembled.clear();
        self.assembled.resize(total, 0);
        for (off, part) in &set.parts {
            self.assembled[*off..off + part.len()].copy_from_slice(part);
        }
    }
}

/// Records the fragment in its set and returns the bytes it added to those held, or says why the
/// set is spoiled by it.
fn add_part(set: &mut FragSet, f: &Fragment) -> Result<usize, Spoiled> {
    if f.cut {
        return Err(Spoiled::Cut);
    }
    let end = f.offset + f.payload.len();
    if end > MAX_PAYLOAD {
        return Err(Spoiled::Conflict);
    }
    if !f.more {
        if set.total.is_some_and(|t| t != end) {
            return Err(Spoiled::Conflict);
        }
        set.total = Some(end);
    }
    if let Some(total) = set.total {
        if end > total || set.parts.iter().any(|(o, p)| o + p.len() > total) {
            return Err(Spoiled::Conflict);
        }
    }
    for (off, part) in &set.parts {
        let (lo, hi) = ((*off).max(f.offset), (off + part.len()).min(end));
        if lo < hi && part[lo - off..hi - off] != f.payload[lo - f.offset..hi - f.offset] {
            return Err(Spoiled::Conflict);
        }
    }
    if set.parts.iter().any(|(o, p)| *o <= f.offset && o + p.len() >= end) {
        return Ok(0);
    }
    set.parts.push((f.offset, f.payload.to_vec()));
    let added = f.payload.len() + PART_OVERHEAD;
    set.bytes += added;
    Ok(added)
}

/// Whether the parts cover every byte of the datagram, with no hole.
fn covers_all(set: &mut FragSet) -> bool {
    let Some(total) = set.total else { return false };
    set.parts.sort_unstable_by_key(|(o, _)| *o);
    let mut covered = 0;
    for (off, part) in &set.parts {
        if *off > covered {
            return false;
        }
        covered = covered.max(off + part.len());
    }
    covered >= total
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: SetKey = (Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3), 7, 17);

    fn frag(frame: u64, offset: usize, more: bool, payload: &[u8]) -> Fragment<'_> {
        Fragment { frame, ts_ns: frame * 1_000, offset, more, payload, cut: false }
    }

    #[test]
    fn in_any_order_the_whole_datagram_and_nothing_else() {
        let data: Vec<u8> = (0..40u8).collect();
        let mut d = Defrag::new(Limits::default());
        let mut s = IngestStats::default();
        assert!(d.push(KEY, frag(1, 32, false, &data[32..]), &mut s).is_none());
        assert!(d.push(KEY, frag(2, 0, true, &data[..16]), &mut s).is_none());
        assert!(d.push(KEY, frag(3, 0, true, &data[..16]), &mut s).is_none(), "a duplicate adds nothing");
        assert_eq!(d.push(KEY, frag(4, 16, true, &data[16..32]), &mut s), Some(&data[..]));
        assert_eq!((s.fragments, s.reassembled_datagrams, s.fragments_discarded), (4, 1, 0));
        assert_eq!(d.held(), (0, 0));
    }

    #[test]
    fn a_hole_is_never_filled() {
        let data = [9u8; 40];
        let mut d = Defrag::new(Limits::default());
        let mut s = IngestStats::default();
        assert!(d.push(KEY, frag(1, 0, true, &data[..16]), &mut s).is_none());
        assert!(d.push(KEY, frag(2, 24, false, &data[24..]), &mut s).is_none(), "bytes 16..24 are missing");
        d.finish(&mut s);
        assert_eq!((s.reassembled_datagrams, s.incomplete_fragment_trains, s.fragments_discarded), (0, 1, 2));
        assert_eq!(s.incomplete_fragment_examples, vec![1]);
    }

    #[test]
    fn conflicting_overlaps_discard_the_set() {
        let mut d = Defrag::new(Limits::default());
        let mut s = IngestStats::default();
        assert!(d.push(KEY, frag(1, 0, true, &[1; 16]), &mut s).is_none());
        assert!(d.push(KEY, frag(2, 8, true, &[2; 16]), &mut s).is_none(), "bytes 8..16 disagree");
        assert!(d.push(KEY, frag(3, 24, false, &[3; 8]), &mut s).is_none(), "absorbed, never handed on");
        d.finish(&mut s);
        assert_eq!((s.reassembled_datagrams, s.conflicting_fragment_sets, s.incomplete_fragment_trains), (0, 1, 0));
        assert_eq!((s.conflicting_fragment_examples.clone(), s.fragments_discarded), (vec![1], 3));
    }

    #[test]
    fn agreeing_overlaps_are_fine_and_two_ends_must_agree() {
        let data: Vec<u8> = (0..32u8).collect();
        let mut d = Defrag::new(Limits::default());
        let mut s = IngestStats::default();
        d.push(KEY, frag(1, 0, true, &data[..24]), &mut s);
        assert_eq!(d.push(KEY, frag(2, 16, false, &data[16..]), &mut s), Some(&data[..]));
        d.push(KEY, frag(3, 0, true, &data[..16]), &mut s);
        d.push(KEY, frag(4, 24, false, &data[24..]), &mut s);
        assert!(d.push(KEY, frag(5, 16, false, &data[16..24]), &mut s).is_none(), "a second, different end");
        assert_eq!(s.conflicting_fragment_sets, 1);
    }

    #[test]
    fn sets_in_flight_are_bounded_by_count_bytes_and_age() {
        let limits = Limits { max_sets: 4, max_bytes: 1_000, max_age_ns: 10_000 };
        let mut d = Defrag::new(limits);
        let mut s = IngestStats::default();
        for id in 0..100u16 {
            d.push((KEY.0, KEY.1, id, 17), frag(u64::from(id) + 1, 0, true, &[0; 200]), &mut s);
            let (sets, bytes) = d.held();
            assert!(sets <= 4 && bytes <= 1_000, "{sets} sets, {bytes} bytes");
        }
        assert!(s.fragment_sets_over_limit >= 95, "{s:?}");
        let mut late = frag(1_000, 0, true, &[0; 8]);
        late.ts_ns = 1_000_000_000;
        d.push((KEY.0, KEY.1, 999, 17), late, &mut s);
        assert_eq!(d.held().0, 1, "older sets expired by age");
        d.finish(&mut s);
        assert_eq!(s.incomplete_fragment_trains, 100 + 1);
        assert_eq!(s.fragments_discarded, 101);
    }

    #[test]
    fn a_cut_fragment_spoils_its_set_as_truncated() {
        let mut d = Defrag::new(Limits::default());
        let mut s = IngestStats::default();
        d.push(KEY, frag(1, 0, true, &[0; 16]), &mut s);
        let mut cut = frag(2, 16, false, &[0; 4]);
        cut.cut = true;
        assert!(d.push(KEY, cut, &mut s).is_none());
        d.finish(&mut s);
        assert_eq!((s.truncated_frames, s.truncated_examples.clone(), s.incomplete_fragment_trains, s.fragments_discarded), (1, vec![2], 0, 2));
    }
}
