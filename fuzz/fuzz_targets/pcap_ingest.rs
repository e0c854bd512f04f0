//! The checkers' capture path on arbitrary files: `check_capture` (pcap/pcapng ingest, IPv4
//! reassembly, EK-ROJ/EK-KOR/control decoding, every checker, metrics) and `trace_capture` must
//! return a verdict or a clear `InputError`, never panic. The bytes go through an anonymous memfd
//! (`/proc/self/fd/N`), so no file is left behind.
#![no_main]
use ekc_checkers::{check_capture, trace_capture, CheckOptions};
use libfuzzer_sys::fuzz_target;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::LazyLock;

static CAPTURE: LazyLock<(File, PathBuf)> = LazyLock::new(|| {
    // SAFETY: memfd_create with a NUL-terminated name; the fd is owned by the File from here on.
    let fd = unsafe { libc::memfd_create(c"ekc-fuzz-capture".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create failed");
    let file = unsafe { File::from_raw_fd(fd) };
    let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    (file, path)
});

fuzz_target!(|data: &[u8]| {
    let (file, path) = &*CAPTURE;
    file.set_len(0).expect("truncate memfd");
    file.write_all_at(data, 0).expect("write memfd");
    let opts = CheckOptions::default();
    let _ = check_capture(path, &opts);
    let _ = trace_capture(path, &opts);
});
