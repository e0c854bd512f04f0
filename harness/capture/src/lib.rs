//! The harness's one capture reader. Everything that reads a pcap or pcapng file (the checkers'
//! ingest, the fault measurement, the lab's capture filter) reads it here, so that every reader
//! refuses damage, counts what it could not use and bounds its memory the same way.
//!
//! Layers, each usable alone:
//! - [`records::RecordReader`]: records with frame number and byte offset, from a file, a FIFO or
//!   standard input (`-`); never seeks; a damaged record ends the read with
//!   [`CaptureError::Damaged`] (frame and offset), never with a silent end of file.
//! - [`link`]: strips Ethernet, Linux SLL, Linux SLL2 and raw-IP link layers down to IPv4.
//! - [`defrag::Defrag`]: IPv4 reassembly that never invents bytes (holes and conflicting
//!   overlaps are discarded and counted) and is bounded by count, bytes and age.
//! - [`datagrams::read_datagrams`]: every IPv4/UDP datagram with its frame and timestamp, and the
//!   [`IngestStats`] a caller needs to tell whether the capture was judged completely.

pub mod datagrams;
pub mod defrag;
pub mod link;
pub mod records;
mod stats;

pub use datagrams::{read_datagrams, Datagram, ReadOptions};
pub use defrag::Limits;
pub use records::{Format, Record, RecordReader};
pub use stats::IngestStats;

/// Why a capture could not be read to its end. `Damaged` is the one a caller must never turn
/// into a partial pass: the bytes after the damaged record were not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{path} is not a capture: {reason}")]
    NotACapture { path: String, reason: String },
    #[error("frame {frame}: link type {link_type} is not supported (Ethernet, Linux SLL, Linux SLL2, raw IPv4 are)")]
    UnknownLinkType { link_type: String, frame: u64 },
    /// A record whose length lies beyond the snap length or beyond the end of the file, or whose
    /// block structure is broken. `after_frame` is the last frame read intact; `offset` is the
    /// damaged record's first byte in the file.
    #[error("capture damaged after frame {after_frame}: the record at byte offset {offset} {reason}")]
    Damaged { after_frame: u64, offset: u64, reason: String },
}
