//! What the capture helper (`docker/helper`, `capture`) reports about its own completeness, and
//! the rule built on it: a case whose capture lost frames (the kernel dropped them from a full
//! socket queue, or the per-case size cap kept them out of the file) is not judged, so it can
//! never pass; its verdict is an error that says how many frames are missing.
use serde::Serialize;

/// Default size cap of one case's capture file: far above any scenario of the catalogue (a few
/// MiB), low enough that a flooding node cannot fill the host's disk.
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

/// The helper's last line, `stopped frames=N kernel_drops=D capped_frames=C`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CaptureStats {
    /// Frames written to the file.
    pub frames: u64,
    /// Frames the kernel dropped because the packet socket's queue was full.
    pub kernel_drops: u64,
    /// Frames seen but not written because the file reached its size cap.
    pub capped_frames: u64,
}

impl CaptureStats {
    /// The statistics in the helper's saved log (its last `stopped` line), if it got to print them.
    pub fn from_log(log: &str) -> Option<CaptureStats> {
        let line = log.lines().rev().find(|l| l.starts_with("stopped "))?;
        let field = |name: &str| -> Option<u64> {
            line.split_whitespace().find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
        };
        Some(CaptureStats { frames: field("frames")?, kernel_drops: field("kernel_drops")?, capped_frames: field("capped_frames")? })
    }

    /// Why the capture is not the whole traffic, if it is not.
    pub fn incomplete(&self, max_bytes: u64) -> Option<String> {
        match (self.kernel_drops, self.capped_frames) {
            (0, 0) => None,
            (d, 0) => Some(format!("capture incomplete: the kernel dropped {d} frame(s) the capture socket could not queue")),
            (0, c) => Some(format!("capture incomplete: {c} frame(s) past the capture's size cap of {} MiB were not kept", max_bytes >> 20)),
            (d, c) => Some(format!("capture incomplete: the kernel dropped {d} frame(s) and {c} past the size cap of {} MiB were not kept", max_bytes >> 20)),
        }
    }
}

/// Whether a capture whose helper reported `stats` (None: nothing) can be judged: `Err` says why not.
pub fn check_complete(stats: Option<CaptureStats>, max_bytes: u64) -> Result<CaptureStats, String> {
    let stats = stats.ok_or_else(|| "the capture helper did not report its statistics (it was killed, or is not this suite's helper): whether frames were lost is unknown".to_string())?;
    match stats.incomplete(max_bytes) {
        Some(why) => Err(why),
        None => Ok(stats),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_capture_is_judged() {
        let s = check_complete(CaptureStats::from_log("ready\nstopped frames=812 kernel_drops=0 capped_frames=0\n"), DEFAULT_MAX_BYTES).unwrap();
        assert_eq!(s, CaptureStats { frames: 812, kernel_drops: 0, capped_frames: 0 });
    }

    #[test]
    fn dropped_or_capped_frames_are_never_judged() {
        let e = check_complete(CaptureStats::from_log("ready\nstopped frames=5 kernel_drops=3 capped_frames=0\n"), DEFAULT_MAX_BYTES).unwrap_err();
        assert!(e.contains("kernel dropped 3 frame(s)"), "{e}");
        let e = check_complete(CaptureStats::from_log("ready\nstopped frames=5 kernel_drops=0 capped_frames=9\n"), 1 << 20).unwrap_err();
        assert!(e.contains("9 frame(s) past the capture's size cap of 1 MiB"), "{e}");
        let e = check_complete(CaptureStats::from_log("stopped frames=5 kernel_drops=2 capped_frames=9"), 1 << 20).unwrap_err();
        assert!(e.contains("dropped 2") && e.contains("9 past"), "{e}");
    }

    #[test]
    fn a_helper_that_reported_nothing_leaves_the_capture_unjudged() {
        for log in ["ready\n", "", "ready\nstopped frames=5\n", "stopped frames=x kernel_drops=0 capped_frames=0"] {
            assert!(check_complete(CaptureStats::from_log(log), DEFAULT_MAX_BYTES).unwrap_err().contains("did not report"), "{log:?}");
        }
    }
}
