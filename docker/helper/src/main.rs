//! Sidecar binary of the lab. Two subcommands, each one small, dependency-light loop:
//!
//! * `capture <iface> <out.pcap> [max-bytes]` opens an AF_PACKET socket on a bridge interface (in
//!   the host's network namespace), puts the bridge in promiscuous mode through a packet membership
//!   (so frames forwarded between bridge ports are seen, not only those to or from the host), prints
//!   `ready` once the socket is bound, writes every frame to a pcap file (flushed at least every
//!   100 ms so a killed run keeps what it saw) until the file would exceed `max-bytes`, and exits
//!   cleanly on SIGTERM/SIGINT after a final flush, printing what it could not keep:
//!   `stopped frames=N kernel_drops=D capped_frames=C` (D from the packet socket's statistics: frames
//!   the kernel dropped because the socket's queue was full; C: frames seen but not written because
//!   of the size cap). The lab refuses to pass a case whose capture lost any frame.
//! * `relay <ctl-port> <port>...` is the fake peer: it binds `ctl-port` for the harness and each
//!   listed port for the network. A datagram from the harness on `ctl-port` is
//!   `src_port u16 BE | dst IPv4 (4) | dst_port u16 BE | payload` and is sent from the bound
//!   `src_port` socket; every datagram arriving on a listed port is handed to the last harness
//!   address as `local_port u16 BE | src IPv4 (4) | src_port u16 BE | payload`.
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as usize);
        libc::signal(libc::SIGINT, on_signal as *const () as usize);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("capture") if args.len() == 4 => capture(&args[2], &args[3], u64::MAX),
        Some("capture") if args.len() == 5 => match args[4].parse() {
            Ok(max) => capture(&args[2], &args[3], max),
            Err(_) => Err(format!("bad max-bytes {:?}", args[4])),
        },
        Some("relay") if args.len() >= 3 => relay(&args[2..]),
        _ => Err("usage: ekc-helper capture <iface> <out.pcap> [max-bytes] | relay <ctl-port> <port>...".into()),
    };
    if let Err(e) = result {
        eprintln!("ekc-helper: {e}");
        std::process::exit(2);
    }
}

/// The packet socket on bridge `iface`: bound to it alone, promiscuous, with kernel receive
/// timestamps, a 50 ms read timeout (so a stop request is noticed) and a deep queue.
fn open_bridge_socket(iface: &str) -> Result<libc::c_int, String> {
    let cname = std::ffi::CString::new(iface).map_err(|_| "bad interface name")?;
    let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if ifindex == 0 {
        return Err(format!("no interface {iface}"));
    }
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // Protocol 0 at creation: the socket receives nothing until `bind` names the interface and
    // the protocol. Created with ETH_P_ALL it would queue frames of every interface (other
    // cases' bridges) in the moment before the bind, and they would open this case's capture.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    if fd < 0 {
        return Err(format!("AF_PACKET socket: {}", std::io::Error::last_os_error()));
    }
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as i32;
    let rc = unsafe {
        libc::bind(fd, &sll as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_ll>() as u32)
    };
    if rc < 0 {
        return Err(format!("bind {iface}: {}", std::io::Error::last_os_error()));
    }
    // Promiscuous membership: a Linux bridge passes frames forwarded between its ports up to the
    // bridge device only while the device is promiscuous.
    let mut mreq: libc::packet_mreq = unsafe { std::mem::zeroed() };
    mreq.mr_ifindex = ifindex as i32;
    mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
    let rc = unsafe {
        libc::setsockopt(fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq as *const _ as *const libc::c_void, std::mem::size_of::<libc::packet_mreq>() as u32)
    };
    if rc < 0 {
        return Err(format!("promiscuous membership: {}", std::io::Error::last_os_error()));
    }
    // Kernel receive timestamps: the checkers' exact timing (a voter's lock lasts from no earlier
    // than the capture time of its PROPOSE) needs the time the frame crossed the bridge, not the
    // moment this process, perhaps starved of CPU, got round to reading it.
    let on: libc::c_int = 1;
    let rc = unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &on as *const _ as *const libc::c_void, 4) };
    if rc < 0 {
        return Err(format!("SO_TIMESTAMPNS: {}", std::io::Error::last_os_error()));
    }
    let tv = libc::timeval { tv_sec: 0, tv_usec: 50_000 };
    unsafe {
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv as *const _ as *const libc::c_void, std::mem::size_of::<libc::timeval>() as u32);
    }
    set_receive_buffer(fd, 16 << 20);
    Ok(fd)
}

fn capture(iface: &str, out: &str, max_bytes: u64) -> Result<(), String> {
    install_signal_handlers();
    let fd = open_bridge_socket(iface)?;
    let file = std::fs::File::create(out).map_err(|e| format!("create {out}: {e}"))?;
    let header = pcap_file::pcap::PcapHeader { snaplen: 65535, datalink: pcap_file::DataLink::ETHERNET, ..Default::default() };
    let sink = SharedSink(std::rc::Rc::new(std::cell::RefCell::new(std::io::BufWriter::new(file))));
    let mut writer = pcap_file::pcap::PcapWriter::with_header(sink.clone(), header)
        .map_err(|e| format!("pcap header: {e}"))?;
    sink.0.borrow_mut().flush().map_err(|e| format!("flush: {e}"))?;
    println!("ready");
    let _ = std::io::stdout().flush();
    let mut buf = vec![0u8; 65536];
    let mut frames: u64 = 0;
    let mut capped: u64 = 0;
    let mut written: u64 = PCAP_HEADER_BYTES;
    let mut last_flush = Instant::now();
    // After a stop request the socket is drained until it has been quiet for one read timeout, so
    // frames already queued in the kernel are not lost.
    loop {
        let (n, kernel_ts) = recv_stamped(fd, &mut buf);
        if n > 0 {
            if written + PCAP_RECORD_HEADER_BYTES + n as u64 > max_bytes {
                // Over the cap the socket is still drained (and counted), so the flood cannot
                // fill the host's disk and the count says how much the file is missing.
                capped += 1;
            } else {
                let ts = kernel_ts.unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default());
                let pkt = pcap_file::pcap::PcapPacket::new(ts, n as u32, &buf[..n as usize]);
                writer.write_packet(&pkt).map_err(|e| format!("write: {e}"))?;
                written += PCAP_RECORD_HEADER_BYTES + n as u64;
                frames += 1;
            }
        } else if STOP.load(Ordering::SeqCst) {
            break;
        }
        if last_flush.elapsed() >= Duration::from_millis(100) {
            sink.0.borrow_mut().flush().map_err(|e| format!("flush: {e}"))?;
            last_flush = Instant::now();
        }
    }
    drop(writer);
    let mut inner = sink.0.borrow_mut();
    inner.flush().map_err(|e| format!("flush: {e}"))?;
    inner.get_ref().sync_all().map_err(|e| format!("sync: {e}"))?;
    let kernel_drops = kernel_drops(fd)?;
    println!("stopped frames={frames} kernel_drops={kernel_drops} capped_frames={capped}");
    Ok(())
}

const PCAP_HEADER_BYTES: u64 = 24;
const PCAP_RECORD_HEADER_BYTES: u64 = 16;

/// A deep socket queue, so a burst the helper is slow to read is queued rather than dropped:
/// SO_RCVBUFFORCE (the helper holds CAP_NET_ADMIN) passes the host's rmem_max, which would cap a
/// plain SO_RCVBUF at a few hundred KiB.
fn set_receive_buffer(fd: libc::c_int, bytes: libc::c_int) {
    let ok = unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &bytes as *const _ as *const libc::c_void, 4) };
    if ok < 0 {
        unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &bytes as *const _ as *const libc::c_void, 4) };
    }
}

/// Frames the kernel dropped for this socket since it was opened (PACKET_STATISTICS; reading the
/// statistics resets them, and they are read once, at the end).
fn kernel_drops(fd: libc::c_int) -> Result<u64, String> {
    let mut st: libc::tpacket_stats = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    let rc = unsafe { libc::getsockopt(fd, libc::SOL_PACKET, libc::PACKET_STATISTICS, &mut st as *mut _ as *mut libc::c_void, &mut len) };
    if rc < 0 {
        return Err(format!("PACKET_STATISTICS: {}", std::io::Error::last_os_error()));
    }
    Ok(u64::from(st.tp_drops))
}

/// One frame from the packet socket and its kernel receive time (SCM_TIMESTAMPNS), if given.
fn recv_stamped(fd: libc::c_int, buf: &mut [u8]) -> (isize, Option<Duration>) {
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
    let mut control = [0u8; 64];
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = control.len() as _;
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    if n <= 0 {
        return (n, None);
    }
    // SAFETY: the CMSG macros walk the control buffer recvmsg filled and sized in msg_controllen.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        let c = unsafe { &*cmsg };
        if c.cmsg_level == libc::SOL_SOCKET && c.cmsg_type == libc::SCM_TIMESTAMPNS {
            let t: libc::timespec = unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::timespec) };
            return (n, Some(Duration::new(t.tv_sec as u64, t.tv_nsec as u32)));
        }
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    (n, None)
}

/// The pcap writer owns its sink; this handle lets the capture loop flush it on a timer.
#[derive(Clone)]
struct SharedSink(std::rc::Rc<std::cell::RefCell<std::io::BufWriter<std::fs::File>>>);

impl Write for SharedSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

fn relay(args: &[String]) -> Result<(), String> {
    install_signal_handlers();
    let ctl_port: u16 = args[0].parse().map_err(|_| "bad ctl port")?;
    let ctl = UdpSocket::bind(("0.0.0.0", ctl_port)).map_err(|e| format!("bind ctl {ctl_port}: {e}"))?;
    ctl.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut ports: Vec<(u16, UdpSocket)> = Vec::new();
    for p in &args[1..] {
        let port: u16 = p.parse().map_err(|_| format!("bad port {p}"))?;
        let s = UdpSocket::bind(("0.0.0.0", port)).map_err(|e| format!("bind {port}: {e}"))?;
        s.set_nonblocking(true).map_err(|e| e.to_string())?;
        ports.push((port, s));
    }
    println!("ready");
    let _ = std::io::stdout().flush();
    let mut harness: Option<std::net::SocketAddr> = None;
    let mut buf = vec![0u8; 65536];
    while !STOP.load(Ordering::SeqCst) {
        let mut idle = true;
        while let Ok((n, from)) = ctl.recv_from(&mut buf) {
            idle = false;
            harness = Some(from);
            if n < 8 {
                continue;
            }
            let src_port = u16::from_be_bytes([buf[0], buf[1]]);
            let dst = SocketAddrV4::new(Ipv4Addr::new(buf[2], buf[3], buf[4], buf[5]), u16::from_be_bytes([buf[6], buf[7]]));
            if !ports.iter().any(|(p, _)| *p == src_port) {
                match UdpSocket::bind(("0.0.0.0", src_port)) {
                    Ok(s) => {
                        let _ = s.set_nonblocking(true);
                        ports.push((src_port, s));
                    }
                    Err(e) => {
                        eprintln!("relay: bind {src_port}: {e}");
                        continue;
                    }
                }
            }
            if let Some((_, s)) = ports.iter().find(|(p, _)| *p == src_port) {
                if let Err(e) = s.send_to(&buf[8..n], dst) {
                    eprintln!("relay: send to {dst}: {e}");
                }
            }
        }
        for (port, s) in &ports {
            let mut out = [0u8; 8];
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                idle = false;
                let Some(h) = harness else { continue };
                let std::net::SocketAddr::V4(from) = from else { continue };
                out[0..2].copy_from_slice(&port.to_be_bytes());
                out[2..6].copy_from_slice(&from.ip().octets());
                out[6..8].copy_from_slice(&from.port().to_be_bytes());
                let mut msg = Vec::with_capacity(8 + n);
                msg.extend_from_slice(&out);
                msg.extend_from_slice(&buf[..n]);
                let _ = ctl.send_to(&msg, h);
            }
        }
        if idle {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    Ok(())
}
