//! What the ingest saw and what it could not use: the counts a caller needs to tell whether a
//! capture was read and judged completely ([`IngestStats::complete`]).

use serde::Serialize;

/// How many example frame numbers each problem class keeps for the report.
pub const EXAMPLES_KEPT: usize = 16;

/// Counters and examples describing what the ingest saw and what it could not use. A damaged
/// capture never yields stats: it is a [`crate::CaptureError::Damaged`].
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct IngestStats {
    /// `pcap` or `pcapng`.
    pub format: String,
    /// Link types met (e.g. `ETHERNET`, `LINUX_SLL2`).
    pub link_types: Vec<String>,
    pub frames: u64,
    pub udp_datagrams: u64,
    /// Frames that are not IPv4/UDP (ARP, IPv6, TCP...): ignored, not judged.
    pub ignored_frames: u64,
    /// Frames cut by the snap length (captured fewer bytes than were on the wire, down to the
    /// IPv4/UDP datagram): accepted and counted, their content not judged.
    pub truncated_frames: u64,
    pub truncated_examples: Vec<u64>,
    /// Frames complete in the capture whose IPv4 or UDP header is inconsistent (a length field
    /// that does not fit, a bad header length): not judged.
    pub malformed_frames: u64,
    pub malformed_examples: Vec<u64>,
    pub fragments: u64,
    pub reassembled_datagrams: u64,
    /// Fragment sets that never completed (a hole, a lost fragment; discarded at the age or size
    /// bound or at the end of the capture), reported with their first frame.
    pub incomplete_fragment_trains: u64,
    pub incomplete_fragment_examples: Vec<u64>,
    /// Of the incomplete sets, those discarded early to keep memory bounded.
    pub fragment_sets_over_limit: u64,
    /// Fragment sets whose overlapping fragments disagree on some byte: discarded, never
    /// reassembled into bytes the receiver may not have seen.
    pub conflicting_fragment_sets: u64,
    pub conflicting_fragment_examples: Vec<u64>,
    /// Fragments of every set that was not reassembled (incomplete, conflicting, cut).
    pub fragments_discarded: u64,
    /// Copies of one datagram captured on several interfaces (`-i any`), counted once.
    pub capture_duplicates: u64,
}

impl IngestStats {
    /// Counts one occurrence and keeps its frame as an example.
    pub fn note(count: &mut u64, examples: &mut Vec<u64>, frame: u64) {
        *count += 1;
        if examples.len() < EXAMPLES_KEPT {
            examples.push(frame);
        }
    }

    pub fn note_truncated(&mut self, frame: u64) {
        Self::note(&mut self.truncated_frames, &mut self.truncated_examples, frame);
    }

    pub fn note_malformed(&mut self, frame: u64) {
        Self::note(&mut self.malformed_frames, &mut self.malformed_examples, frame);
    }

    pub fn note_incomplete(&mut self, first_frame: u64) {
        Self::note(&mut self.incomplete_fragment_trains, &mut self.incomplete_fragment_examples, first_frame);
    }

    /// Whether every IPv4/UDP datagram of the capture reached the judgement: nothing truncated,
    /// malformed or discarded. A harness must not pass a case whose capture is not complete.
    pub fn complete(&self) -> bool {
        self.shortfalls().is_empty()
    }

    /// One sentence per class of datagrams that could not be judged (empty when complete).
    pub fn shortfalls(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.truncated_frames > 0 {
            out.push(format!("{} frame(s) cut by the snap length, not judged, e.g. frames {:?}", self.truncated_frames, self.truncated_examples));
        }
        if self.malformed_frames > 0 {
            out.push(format!("{} frame(s) with malformed IPv4/UDP headers, not judged, e.g. frames {:?}", self.malformed_frames, self.malformed_examples));
        }
        if self.incomplete_fragment_trains > 0 {
            out.push(format!(
                "{} IPv4 fragment set(s) never completed ({} discarded early to bound memory), e.g. first frames {:?}",
                self.incomplete_fragment_trains, self.fragment_sets_over_limit, self.incomplete_fragment_examples
            ));
        }
        if self.conflicting_fragment_sets > 0 {
            out.push(format!("{} IPv4 fragment set(s) with conflicting overlaps discarded, e.g. first frames {:?}", self.conflicting_fragment_sets, self.conflicting_fragment_examples));
        }
        if self.fragments_discarded > 0 {
            out.push(format!("{} fragment(s) discarded in all", self.fragments_discarded));
        }
        out
    }
}
