//! Record layer: reads a pcap or pcapng stream record by record (pcap-file's slice parsers on a
//! buffer we refill), from a file, a FIFO or standard input. It never seeks, so pipes work, and it
//! knows each record's byte offset, so damage is reported where it is. A record whose length lies
//! beyond the snap length or beyond the end of the input ends the read with
//! [`CaptureError::Damaged`]: the bytes after it cannot be trusted to start a record, and a
//! capture that was not read to its end must never be judged as if it had been.

use crate::CaptureError;
use pcap_file::pcap::{PcapHeader, PcapParser};
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{DataLink, Endianness, TsResolution};
use std::io::Read;
use std::path::Path;

/// Refill granularity of the input buffer.
const CHUNK: usize = 1 << 20;
/// A pcap header with snap length 0 ("unlimited") is read with libpcap's largest snap length.
const DEFAULT_SNAPLEN: u32 = 262_144;
/// The largest pcapng block accepted: far above any snap length; a larger length field is damage.
const MAX_BLOCK_LEN: u32 = 16 << 20;
const PCAPNG_SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// The container format of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::PcapNg => "pcapng",
        }
    }
}

/// The latest timestamp a record carries: 2^62 ns after the epoch (the year 2116). Later ones, which
/// only a corrupt or hostile pcapng can state, saturate here, so every judge may add any protocol
/// duration (timeouts, horizons, slack: all far below 2^62 ns) to a timestamp without overflow.
pub const MAX_TS_NS: u64 = 1 << 62;

/// One captured frame as stored in the file.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// 1-based, as Wireshark numbers frames.
    pub frame: u64,
    /// Byte offset of the record (pcap record header or pcapng block) in the input.
    pub offset: u64,
    /// Nanoseconds since the Unix epoch, saturated at [`MAX_TS_NS`] (never a panic, whatever the
    /// file says).
    pub ts_ns: u64,
    pub link: DataLink,
    /// The captured bytes (possibly fewer than `orig_len`: cut by the snap length).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub orig_len: u32,
}

/// Bytes read from the input and not yet consumed.
struct Input {
    r: Box<dyn Read>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Input offset of `buf[start]`.
    offset: u64,
    eof: bool,
    name: String,
}

impl Input {
    fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Reads until `need` bytes are available or the input ends; returns whether they are.
    fn fill(&mut self, need: usize) -> Result<bool, CaptureError> {
        while self.end - self.start < need && !self.eof {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            // Grow with the data that actually arrives (doubling), never straight to `need`: a
            // damaged or hostile length field (a 2.5 GB record in a 10 kB file) must meet the end
            // of the input, not an allocation of its size.
            if self.end == self.buf.len() {
                let grown = (self.buf.len() * 2).max(CHUNK).min(need.max(CHUNK));
                self.buf.resize(grown, 0);
            }
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CaptureError::Io { path: self.name.clone(), reason: e.to_string() }),
            }
        }
        Ok(self.end - self.start >= need)
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }
}

/// Per pcapng interface: link type and timestamp units per second (`if_tsresol`).
#[derive(Clone, Copy)]
struct Interface {
    link: DataLink,
    units: u64,
}

enum Parser {
    Pcap { parser: PcapParser, snap_limit: u32 },
    PcapNg { parser: PcapNgParser, interfaces: Vec<Interface> },
}

/// How long [`RecordReader::open`] waits for a FIFO's writer to send its first bytes.
pub const FIFO_WRITER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A regular file opens as usual. A FIFO opens without waiting for a writer (a plain open would
/// block until one appears, perhaps never), then waits at most `fifo_wait` for its first bytes
/// and reads on in blocking mode.
fn open_file(path: &Path, fifo_wait: std::time::Duration) -> Result<std::fs::File, String> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let is_fifo = std::fs::metadata(path).map(|m| m.file_type().is_fifo()).unwrap_or(false);
    if !is_fifo {
        return std::fs::File::open(path).map_err(|e| e.to_string());
    }
    let f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(|e| e.to_string())?;
    let fd = f.as_raw_fd();
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    let ms = i32::try_from(fifo_wait.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one pollfd for a descriptor this function owns. Linux reports no hang-up on a FIFO
    // that has never had a writer, so this waits for the first writer's first bytes or its close.
    match unsafe { libc::poll(&mut pfd, 1, ms) } {
        0 => return Err(format!("it is a FIFO and no writer sent anything within {} s", fifo_wait.as_secs_f64())),
        n if n < 0 => return Err(format!("waiting on the FIFO: {}", std::io::Error::last_os_error())),
        _ => {}
    }
    // SAFETY: clearing O_NONBLOCK on the same descriptor; reads block again as for a pipe.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(format!("FIFO to blocking mode: {}", std::io::Error::last_os_error()));
    }
    Ok(f)
}

/// Streams the records of one capture. `next_record` lends each record until the next call.
pub struct RecordReader {
    input: Input,
    parser: Parser,
    frames: u64,
    link_types: Vec<DataLink>,
}

impl RecordReader {
    /// Opens `path`; `-` is standard input. FIFOs and pipes are read like files, but a FIFO whose
    /// writer sends nothing within [`FIFO_WRITER_WAIT`] is an error, not a wait without end.
    pub fn open(path: &Path) -> Result<RecordReader, CaptureError> {
        RecordReader::open_waiting(path, FIFO_WRITER_WAIT)
    }

    /// [`RecordReader::open`] with its own bound on the wait for a FIFO's first bytes.
    pub fn open_waiting(path: &Path, fifo_wait: std::time::Duration) -> Result<RecordReader, CaptureError> {
        let name = path.display().to_string();
        let r: Box<dyn Read> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin())
        } else {
            Box::new(open_file(path, fifo_wait).map_err(|reason| CaptureError::Io { path: name.clone(), reason })?)
        };
        RecordReader::new(r, &name)
    }

    /// Reads the file header from `r` (`name` is used in errors).
    pub fn new(r: Box<dyn Read>, name: &str) -> Result<RecordReader, CaptureError> {
        let mut input = Input { r, buf: Vec::new(), start: 0, end: 0, offset: 0, eof: false, name: name.to_string() };
        let not_a_capture = |reason: String| CaptureError::NotACapture { path: name.to_string(), reason };
        if !input.fill(4)? {
            return Err(not_a_capture(format!("it is {} bytes long, shorter than any capture header", input.available().len())));
        }
        let magic: [u8; 4] = input.available()[..4].try_into().expect("4 bytes");
        let (parser, link_types) = match magic {
            PCAPNG_SHB => (Parser::PcapNg { parser: open_pcapng(&mut input).map_err(not_a_capture)?, interfaces: Vec::new() }, Vec::new()),
            [0xd4, 0xc3, 0xb2, 0xa1] | [0xa1, 0xb2, 0xc3, 0xd4] | [0x4d, 0x3c, 0xb2, 0xa1] | [0xa1, 0xb2, 0x3c, 0x4d] => {
                input.fill(24)?;
                let (_, parser) = PcapParser::new(input.available()).map_err(|e| not_a_capture(format!("bad pcap header: {e}")))?;
                input.consume(24);
                let header = parser.header();
                let snap_limit = if header.snaplen == 0 { DEFAULT_SNAPLEN } else { header.snaplen };
                (Parser::Pcap { parser, snap_limit }, vec![header.datalink])
            }
            m => return Err(not_a_capture(format!("unknown magic number {:02x}{:02x}{:02x}{:02x} (neither pcap nor pcapng)", m[0], m[1], m[2], m[3]))),
        };
        Ok(RecordReader { input, parser, frames: 0, link_types })
    }

    pub fn format(&self) -> Format {
        match self.parser {
            Parser::Pcap { .. } => Format::Pcap,
            Parser::PcapNg { .. } => Format::PcapNg,
        }
    }

    /// The classic pcap file header (`None` for pcapng), e.g. to write a filtered copy.
    pub fn pcap_header(&self) -> Option<PcapHeader> {
        match &self.parser {
            Parser::Pcap { parser, .. } => Some(parser.header()),
            Parser::PcapNg { .. } => None,
        }
    }

    /// Link types met so far, in order of appearance.
    pub fn link_types(&self) -> &[DataLink] {
        &self.link_types
    }

    /// Frames read so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The next record, `None` at a clean end of the input.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, CaptureError> {
        match self.parser {
            Parser::Pcap { .. } => self.next_pcap(),
            Parser::PcapNg { .. } => self.next_pcapng(),
        }
    }

    fn damaged(&self, reason: impl Into<String>) -> CaptureError {
        CaptureError::Damaged { after_frame: self.frames, offset: self.input.offset, reason: reason.into() }
    }

    /// Damage when the input ends before `need` bytes of the record at the current offset.
    fn require(&mut self, need: usize, what: &str) -> Result<(), CaptureError> {
        if self.input.fill(need)? {
            return Ok(());
        }
        let have = self.input.available().len();
        Err(self.damaged(format!("{what} {need} bytes, but the file ends {have} bytes into it (cut short, or a corrupt length field)")))
    }

    fn next_pcap(&mut self) -> Result<Option<Record<'_>>, CaptureError> {
        let Parser::Pcap { parser, snap_limit } = &self.parser else { unreachable!("pcap parser") };
        let (header, snap_limit) = (parser.header(), *snap_limit);
        if !self.input.fill(1)? {
            return Ok(None);
        }
        self.require(16, "needs a record header of")?;
        let incl_len = read_u32(&self.input.available()[8..12], header.endianness);
        if incl_len > snap_limit {
            return Err(self.damaged(format!("claims {incl_len} captured bytes, beyond the snap length {snap_limit}")));
        }
        self.require(16 + incl_len as usize, "claims")?;
        let Parser::Pcap { parser, .. } = &self.parser else { unreachable!("pcap parser") };
        let (_, raw) = parser.next_raw_packet(self.input.available()).map_err(|e| self.damaged(e.to_string()))?;
        let frac_ns = match header.ts_resolution {
            TsResolution::MicroSecond => u64::from(raw.ts_frac) * 1_000,
            TsResolution::NanoSecond => u64::from(raw.ts_frac),
        };
        let ts_ns = u64::from(raw.ts_sec).saturating_mul(1_000_000_000).saturating_add(frac_ns).min(MAX_TS_NS);
        let orig_len = raw.orig_len;
        self.frames += 1;
        let offset = self.input.offset;
        self.input.consume(16 + incl_len as usize);
        let data = &self.input.buf[self.input.start - incl_len as usize..self.input.start];
        Ok(Some(Record { frame: self.frames, offset, ts_ns, link: header.datalink, data, orig_len }))
    }

    fn next_pcapng(&mut self) -> Result<Option<Record<'_>>, CaptureError> {
        loop {
            if !self.input.fill(1)? {
                return Ok(None);
            }
            self.require(12, "needs a block header of")?;
            let Parser::PcapNg { parser, .. } = &self.parser else { unreachable!("pcapng parser") };
            let len = block_len(self.input.available(), parser.section().endianness);
            if len < 12 || !len.is_multiple_of(4) || len > MAX_BLOCK_LEN {
                return Err(self.damaged(format!("has a block length of {len} bytes (a pcapng block is 12 bytes or more, a multiple of 4, at most {MAX_BLOCK_LEN})")));
            }
            self.require(len as usize, "is a block of")?;
            if let Some((frame, offset, ts_ns, link, range, orig_len)) = self.pcapng_block(len as usize)? {
                return Ok(Some(Record { frame, offset, ts_ns, link, data: &self.input.buf[range], orig_len }));
            }
        }
    }

    /// Parses the block of `len` bytes at the current offset and consumes it; packet blocks give
    /// the record's fields with the data's range in the buffer.
    #[allow(clippy::type_complexity)]
    fn pcapng_block(&mut self, len: usize) -> Result<Option<(u64, u64, u64, DataLink, std::ops::Range<usize>, u32)>, CaptureError> {
        let offset = self.input.offset;
        let start = self.input.start;
        let Parser::PcapNg { parser, interfaces } = &mut self.parser else { unreachable!("pcapng parser") };
        let block = match parser.next_block(&self.input.buf[start..start + len]) {
            Ok((_, block)) => block,
            Err(e) => return Err(CaptureError::Damaged { after_frame: self.frames, offset, reason: format!("is not a valid pcapng block: {e}") }),
        };
        let base = self.input.buf[start..].as_ptr() as usize;
        let range_of = |data: &[u8]| {
            let from = start + (data.as_ptr() as usize - base);
            from..from + data.len()
        };
        let packet = match block {
            Block::SectionHeader(_) => {
                interfaces.clear();
                None
            }
            Block::InterfaceDescription(idb) => {
                interfaces.push(Interface { link: idb.linktype, units: ts_units(&idb.options) });
                if !self.link_types.contains(&idb.linktype) {
                    self.link_types.push(idb.linktype);
                }
                None
            }
            Block::EnhancedPacket(epb) => Some((epb.interface_id, Some(epb.timestamp.as_nanos()), range_of(&epb.data), epb.original_len)),
            Block::SimplePacket(spb) => Some((0, None, range_of(&spb.data), spb.original_len)),
            Block::Packet(pb) => Some((u32::from(pb.interface_id), Some(u128::from(pb.timestamp)), range_of(&pb.data), pb.original_len)),
            _ => None,
        };
        let Some((iface, raw_ts, range, orig_len)) = packet else {
            self.input.consume(len);
            return Ok(None);
        };
        let Some(&Interface { link, units }) = interfaces.get(iface as usize) else {
            return Err(CaptureError::Damaged { after_frame: self.frames, offset, reason: format!("refers to interface {iface}, which was never described") });
        };
        self.frames += 1;
        self.input.consume(len);
        let ts_ns = raw_ts.map(|raw| (raw * 1_000_000_000 / u128::from(units)).min(u128::from(MAX_TS_NS)) as u64).unwrap_or(0);
        Ok(Some((self.frames, offset, ts_ns, link, range, orig_len)))
    }
}

/// Parses the section header block at the start of a pcapng input and consumes it.
fn open_pcapng(input: &mut Input) -> Result<PcapNgParser, String> {
    input.fill(12).map_err(|e| e.to_string())?;
    let avail = input.available();
    if avail.len() < 12 {
        return Err(format!("it ends inside the pcapng section header ({} bytes)", avail.len()));
    }
    let len = block_len(avail, Endianness::Big);
    if len < 28 || !len.is_multiple_of(4) || len > MAX_BLOCK_LEN {
        return Err(format!("bad pcapng section header: block length {len}"));
    }
    if !input.fill(len as usize).map_err(|e| e.to_string())? {
        return Err("it ends inside the pcapng section header".into());
    }
    let (_, parser) = PcapNgParser::new(&input.available()[..len as usize]).map_err(|e| format!("bad pcapng section header: {e}"))?;
    input.consume(len as usize);
    Ok(parser)
}

/// The total length field of the pcapng block at the start of `b` (12 bytes available). A section
/// header carries its own byte order in its magic at bytes 8..12.
fn block_len(b: &[u8], section: Endianness) -> u32 {
    let order = if b[..4] == PCAPNG_SHB {
        if b[8..12] == [0x4d, 0x3c, 0x2b, 0x1a] {
            Endianness::Little
        } else {
            Endianness::Big
        }
    } else {
        section
    };
    read_u32(&b[4..8], order)
}

fn read_u32(b: &[u8], order: Endianness) -> u32 {
    let b: [u8; 4] = b[..4].try_into().expect("4 bytes");
    match order {
        Endianness::Big => u32::from_be_bytes(b),
        Endianness::Little => u32::from_le_bytes(b),
    }
}

/// Timestamp units per second of an interface: `if_tsresol` (default microseconds). Absurd
/// resolutions saturate; they give absurd times, never a panic.
fn ts_units(options: &[InterfaceDescriptionOption]) -> u64 {
    let mut units = 1_000_000u64;
    for opt in options {
        if let InterfaceDescriptionOption::IfTsResol(r) = opt {
            units = if r & 0x80 != 0 { 1u64.checked_shl(u32::from(r & 0x7f)).unwrap_or(u64::MAX) } else { 10u64.checked_pow(u32::from(*r)).unwrap_or(u64::MAX) };
        }
    }
    units
}
