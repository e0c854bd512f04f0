//! Capture ingest for the checkers: the harness's one capture reader (`ekc-capture`: pcap and
//! pcapng from a file, FIFO or standard input; Ethernet, Linux SLL/SLL2, raw IPv4; bounded IPv4
//! reassembly that never invents bytes) with the checkers' error type. A damaged capture is an
//! [`CaptureError::Damaged`] naming the frame and byte offset, never a judgement of the part before
//! the damage; what could not be used (cut frames, discarded fragments) is counted in
//! [`IngestStats`], whose [`IngestStats::complete`] tells whether every datagram was judged.

use crate::InputError;
use std::path::Path;

pub use ekc_capture::{CaptureError, Datagram, IngestStats, Limits, ReadOptions};

/// Reads `path` (pcap or pcapng, detected by magic number; `-` is standard input) and calls
/// `sink` for every IPv4/UDP datagram in capture order.
pub fn read_capture<F: FnMut(&Datagram)>(path: &Path, sink: F) -> Result<IngestStats, InputError> {
    ekc_capture::read_datagrams(path, &ReadOptions::default(), sink).map_err(InputError::from)
}
