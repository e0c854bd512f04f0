//! The in-namespace engine (`ekc-nemesis serve`): runs inside the target's network namespace (a
//! helper container with `network_mode: container:<id>` and NET_ADMIN, or `ip netns exec`), takes
//! JSON-line requests on stdin, installs kernel rules for the chosen backend, serves the NFQUEUE
//! queues (holding packets and giving verdicts later), and removes everything on `clear`, on EOF of
//! stdin or on SIGTERM, so nothing is left behind.

use std::collections::{BinaryHeap, HashMap};
use std::io::{self, BufRead, Write};
use std::net::Ipv4Addr;
use std::os::fd::RawFd;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::impair::{Decision, Impairer};
use crate::model::{Direction, Impairment};
use crate::rules::{self, Backend, Plan, Selector, Step};

/// Backend choice as requested by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// netem if the kernel has sch_netem, else nfqueue.
    #[default]
    Auto,
    Netem,
    Nfqueue,
}

impl std::str::FromStr for BackendChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(BackendChoice::Auto),
            "netem" => Ok(BackendChoice::Netem),
            "nfqueue" => Ok(BackendChoice::Nfqueue),
            _ => Err(format!("unknown backend {s:?} (expected auto, netem or nfqueue)")),
        }
    }
}

/// A request line on the engine's stdin.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Install or replace the impairment rule `key`.
    Set { key: String, selector: Selector, impairment: Impairment, seed: u64 },
    /// Install or replace the partition block `key`.
    Block {
        key: String,
        #[serde(default)]
        peers_out: Vec<Ipv4Addr>,
        #[serde(default)]
        peers_in: Vec<Ipv4Addr>,
        #[serde(default = "rules::default_exempt")]
        exempt_ports: Vec<u16>,
    },
    /// Remove rule `key` (impairment or block).
    Unset { key: String },
    /// Per-rule packet counters of the NFQUEUE engine.
    Stats,
    /// Remove every rule.
    Clear,
}

/// A response line on the engine's stdout (the first line, before any request, is [`Hello`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Time spent installing/removing kernel rules, microseconds.
    #[serde(default)]
    pub elapsed_us: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mechanisms: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<HashMap<String, RuleStats>>,
}

/// The engine's greeting: which backend it runs and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    pub ok: bool,
    #[serde(default)]
    pub backend: Option<Backend>,
    /// Whether `tc qdisc add ... netem` works in this kernel.
    #[serde(default)]
    pub kernel_has_netem: bool,
    #[serde(default)]
    pub error: Option<String>,
    /// Leftovers of an earlier engine that died without cleaning up (SIGKILL), removed at start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub swept: Vec<String>,
}

/// Counters of one NFQUEUE rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleStats {
    pub seen: u64,
    pub dropped: u64,
    pub corrupted: u64,
    pub delayed: u64,
    /// Verdicts the kernel refused (the packet then stays queued until the rule is removed).
    pub verdict_errors: u64,
}

/// Runs one step; the error carries the tool's stderr.
pub fn run_step(step: &Step) -> Result<(), String> {
    let (mut cmd, input) = match step {
        Step::Run(argv) => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            (c, None)
        }
        Step::IptablesRestore(s) => {
            let mut c = Command::new("iptables-restore");
            c.args(["--noflush", "--wait"]);
            (c, Some(s))
        }
        Step::Nft(s) => {
            let mut c = Command::new("nft");
            c.args(["-f", "-"]);
            (c, Some(s))
        }
    };
    let shown = match step {
        Step::Run(argv) => argv.join(" "),
        Step::IptablesRestore(s) => format!("iptables-restore <<{s}"),
        Step::Nft(s) => format!("nft -f - <<{s}"),
    };
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run `{shown}`: {e} (is iproute2/nftables/iptables installed?)"))?;
    if let Some(text) = input {
        child.stdin.take().expect("piped").write_all(text.as_bytes()).map_err(|e| format!("`{shown}`: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("`{shown}`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn run_steps(steps: &[Step]) -> Result<(), String> {
    steps.iter().try_for_each(run_step)
}

/// Tries a netem qdisc on a throwaway veth pair in the current namespace (veth, because Docker
/// needs it anyway; `dummy` is often not built in).
pub fn probe_netem() -> Result<(), String> {
    let dev = format!("ekcprobe{}", std::process::id() % 10_000);
    let args = |s: &str| Step::Run(s.split_whitespace().map(str::to_owned).collect());
    run_step(&args(&format!("ip link add {dev} type veth peer name {dev}p")))?;
    let r = run_step(&args(&format!("tc qdisc add dev {dev} root netem delay 1ms")));
    let _ = run_step(&args(&format!("ip link del {dev}")));
    r
}

/// Resolves a backend choice against the kernel; forcing netem without sch_netem is an error.
pub fn resolve_backend(choice: BackendChoice) -> (Result<Backend, String>, bool) {
    let probe = probe_netem();
    let has = probe.is_ok();
    let r = match (choice, probe) {
        (BackendChoice::Nfqueue, _) => Ok(Backend::Nfqueue),
        (BackendChoice::Auto, Ok(())) | (BackendChoice::Netem, Ok(())) => Ok(Backend::Netem),
        (BackendChoice::Auto, Err(_)) => Ok(Backend::Nfqueue),
        (BackendChoice::Netem, Err(e)) => Err(format!(
            "the netem backend was requested but this kernel has no usable sch_netem (probe `tc qdisc add ... netem delay 1ms` failed: {e}); use backend `auto` or `nfqueue`"
        )),
    };
    (r, has)
}

fn capture_stdout(argv: &[&str]) -> String {
    Command::new(argv[0])
        .args(&argv[1..])
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Removes rules an earlier engine left in this namespace (it was killed before it could clean
/// up): EKC* iptables chains and their jumps, `ekcn*` nft tables, our htb root and IFB device.
pub fn sweep_stale(iface: &str) -> Vec<String> {
    let mut swept = Vec::new();
    for table in ["mangle", "filter"] {
        let dump = capture_stdout(&["iptables-save", "-t", table]);
        let ours = |name: &str| name.starts_with("EKCN") || name.starts_with("EKCO") || name.starts_with("EKCI");
        let chains: Vec<String> =
            dump.lines().filter_map(|l| l.strip_prefix(':')).filter_map(|l| l.split_whitespace().next()).filter(|c| ours(c)).map(str::to_owned).collect();
        if chains.is_empty() {
            continue;
        }
        let mut script = format!("*{table}\n");
        for l in dump.lines().filter(|l| l.starts_with("-A ")) {
            let mut words = l.split_whitespace();
            let chain = words.nth(1).unwrap_or_default();
            let target = l.rsplit(" -j ").next().unwrap_or_default().split_whitespace().next().unwrap_or_default();
            if !ours(chain) && ours(target) {
                script.push_str(&format!("-D{}\n", &l[2..]));
            }
        }
        for c in &chains {
            script.push_str(&format!("-F {c}\n-X {c}\n"));
        }
        script.push_str("COMMIT\n");
        if run_step(&Step::IptablesRestore(script)).is_ok() {
            swept.extend(chains.iter().map(|c| format!("iptables {table} {c}")));
        }
    }
    for line in capture_stdout(&["nft", "list", "tables"]).lines() {
        if let Some(name) = line.strip_prefix("table netdev ").filter(|n| n.starts_with("ekcn")) {
            if run_step(&Step::Nft(format!("delete table netdev {name}\n"))).is_ok() {
                swept.push(format!("nft netdev {name}"));
            }
        }
    }
    let classes = capture_stdout(&["tc", "class", "show", "dev", iface]);
    if classes.lines().any(|l| l.starts_with("class htb 1:1 root") && l.contains("rate 10Gbit")) {
        let _ = run_step(&Step::Run(vec!["tc".into(), "qdisc".into(), "del".into(), "dev".into(), iface.into(), "root".into()]));
        swept.push(format!("tc htb root on {iface}"));
    }
    if !capture_stdout(&["ip", "link", "show", rules::IFB_DEVICE]).is_empty() {
        let _ = run_step(&Step::Run(vec!["tc".into(), "qdisc".into(), "del".into(), "dev".into(), iface.into(), "ingress".into()]));
        let _ = run_step(&Step::Run(vec!["ip".into(), "link".into(), "del".into(), rules::IFB_DEVICE.into()]));
        swept.push(format!("{} and the ingress redirect", rules::IFB_DEVICE));
    }
    swept
}

// ---- NFQUEUE worker ---------------------------------------------------------------------------

enum QueueCmd {
    Bind { queue: u16, key: String, impairer: Box<Impairer>, done: mpsc::Sender<Result<(), String>> },
    Unbind { queue: u16, done: mpsc::Sender<()> },
    Stats { reply: mpsc::Sender<HashMap<String, RuleStats>> },
}

struct Held {
    due: Instant,
    order: u64,
    msg: nfq::Message,
}
impl PartialEq for Held {
    fn eq(&self, o: &Self) -> bool {
        (self.due, self.order) == (o.due, o.order)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Held {
    // Reversed: BinaryHeap is a max-heap and we want the earliest due first.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.due, o.order).cmp(&(self.due, self.order))
    }
}

/// Handle to the thread that owns the NFQUEUE netlink socket.
struct QueueWorker {
    tx: mpsc::Sender<QueueCmd>,
    wake_fd: RawFd,
}

impl QueueWorker {
    fn start() -> Result<QueueWorker, String> {
        let before = netfilter_sockets();
        let mut queue = nfq::Queue::open().map_err(|e| format!("cannot open an NFQUEUE netlink socket (needs NET_ADMIN): {e}"))?;
        // nfq does not expose its fd; it is the one NETLINK_NETFILTER socket that appeared now. We
        // need it to sleep in poll() until a packet arrives or a held packet is due.
        let nl_fd = netfilter_sockets()
            .into_iter()
            .find(|fd| !before.contains(fd))
            .ok_or("cannot find the NFQUEUE socket's descriptor")?;
        queue.set_nonblocking(true);
        // A burst (or a moment without CPU) must not overflow the netlink socket: the kernel drops
        // queued packets it cannot deliver, which would add loss nobody configured.
        let size: libc::c_int = 32 << 20;
        // SAFETY: setsockopt with a c_int on the socket found above.
        unsafe {
            libc::setsockopt(nl_fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, (&size as *const libc::c_int).cast(), std::mem::size_of::<libc::c_int>() as libc::socklen_t);
        }
        // SAFETY: plain syscall, checked below.
        let wake_fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if wake_fd < 0 {
            return Err(format!("eventfd: {}", io::Error::last_os_error()));
        }
        let (tx, rx) = mpsc::channel();
        thread::Builder::new()
            .name("nfqueue".into())
            .spawn(move || {
                let got = raise_priority();
                if std::env::var_os("EKC_NEMESIS_DEBUG").is_some() {
                    eprintln!("ekc-nemesis: packet thread priority: {got}");
                }
                queue_loop(queue, nl_fd, wake_fd, rx)
            })
            .map_err(|e| e.to_string())?;
        Ok(QueueWorker { tx, wake_fd })
    }

    fn send(&self, cmd: QueueCmd) {
        let _ = self.tx.send(cmd);
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our eventfd.
        unsafe { libc::write(self.wake_fd, (&one as *const u64).cast(), 8) };
    }
}

/// Best effort: run the packet thread under SCHED_FIFO so held packets leave on time on a busy
/// machine; where real-time scheduling is refused (a container: no RT budget in its cgroup), fall
/// back to nice -20. Both need CAP_SYS_NICE (root on a host; the helper container is given it);
/// without it the thread stays at normal priority and delays are less precise under CPU contention.
/// Returns what was obtained, for the greeting.
pub fn raise_priority() -> &'static str {
    let param = libc::sched_param { sched_priority: 10 };
    // SAFETY: sets the calling thread's scheduling policy / nice value; failures are harmless.
    unsafe {
        if libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0 {
            return "sched_fifo";
        }
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, -20) == 0 {
            return "nice-20";
        }
    }
    "normal"
}

fn netfilter_sockets() -> Vec<RawFd> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return vec![] };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<RawFd>().ok())
        .filter(|&fd| {
            let mut v: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            let get = |opt, v: &mut libc::c_int, len: &mut libc::socklen_t| {
                // SAFETY: getsockopt into a c_int with its size; fails harmlessly on non-sockets.
                unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, opt, (v as *mut libc::c_int).cast(), len) == 0 }
            };
            if !get(libc::SO_DOMAIN, &mut v, &mut len) || v != libc::AF_NETLINK {
                return false;
            }
            get(libc::SO_PROTOCOL, &mut v, &mut len) && v == libc::NETLINK_NETFILTER
        })
        .collect()
}

struct Rule {
    key: String,
    impairer: Box<Impairer>,
    stats: RuleStats,
}

/// Issues a verdict, counting failures against the packet's rule.
fn give(queue: &mut nfq::Queue, rules: &mut HashMap<u16, Rule>, msg: nfq::Message) {
    let q = msg.get_queue_num();
    if let Err(e) = queue.verdict(msg) {
        if let Some(r) = rules.get_mut(&q) {
            r.stats.verdict_errors += 1;
        }
        if std::env::var_os("EKC_NEMESIS_DEBUG").is_some() {
            eprintln!("ekc-nemesis: verdict failed: {e}");
        }
    }
}

fn queue_loop(mut queue: nfq::Queue, nl_fd: RawFd, wake_fd: RawFd, rx: mpsc::Receiver<QueueCmd>) {
    let mut rules: HashMap<u16, Rule> = HashMap::new();
    let mut held: BinaryHeap<Held> = BinaryHeap::new();
    let mut order = 0u64;
    loop {
        let timeout = held.peek().map(|h| {
            let left = h.due.saturating_duration_since(Instant::now());
            libc::timespec { tv_sec: left.as_secs() as libc::time_t, tv_nsec: libc::c_long::from(left.subsec_nanos() as i32) }
        });
        let mut fds = [
            libc::pollfd { fd: nl_fd, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: wake_fd, events: libc::POLLIN, revents: 0 },
        ];
        // ppoll, not poll: microsecond timeouts, so held packets leave on time rather than on the
        // next millisecond. SAFETY: two valid pollfd entries and an optional valid timespec.
        unsafe {
            libc::ppoll(fds.as_mut_ptr(), 2, timeout.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec), std::ptr::null())
        };

        if fds[1].revents & libc::POLLIN != 0 {
            let mut buf = 0u64;
            // SAFETY: reads 8 bytes into a u64 from our eventfd.
            unsafe { libc::read(wake_fd, (&mut buf as *mut u64).cast(), 8) };
            loop {
                match rx.try_recv() {
                    Ok(QueueCmd::Bind { queue: q, key, impairer, done }) => {
                        let r = if rules.contains_key(&q) {
                            Ok(())
                        } else {
                            queue.bind(q).and_then(|_| queue.set_queue_max_len(q, 100_000)).map_err(|e| format!("NFQUEUE bind {q}: {e}"))
                        };
                        if r.is_ok() {
                            let stats = rules.get(&q).map(|r| r.stats).unwrap_or_default();
                            rules.insert(q, Rule { key, impairer, stats });
                        }
                        let _ = done.send(r);
                    }
                    Ok(QueueCmd::Unbind { queue: q, done }) => {
                        // Held packets of this rule leave now rather than being lost with the rule.
                        let mut keep = BinaryHeap::new();
                        for h in held.drain() {
                            if h.msg.get_queue_num() == q {
                                give(&mut queue, &mut rules, h.msg);
                            } else {
                                keep.push(h);
                            }
                        }
                        held = keep;
                        let _ = queue.unbind(q);
                        rules.remove(&q);
                        let _ = done.send(());
                    }
                    Ok(QueueCmd::Stats { reply }) => {
                        let _ = reply.send(rules.values().map(|r| (r.key.clone(), r.stats)).collect());
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        for h in held.drain() {
                            give(&mut queue, &mut rules, h.msg);
                        }
                        // SAFETY: closing our own eventfd once, at shutdown.
                        unsafe { libc::close(wake_fd) };
                        return;
                    }
                }
            }
        }

        loop {
            let mut msg = match queue.recv() {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let Some(rule) = rules.get_mut(&msg.get_queue_num()) else {
                msg.set_verdict(nfq::Verdict::Accept);
                give(&mut queue, &mut rules, msg);
                continue;
            };
            rule.stats.seen += 1;
            match rule.impairer.decide(msg.get_payload()) {
                Decision::Drop => {
                    rule.stats.dropped += 1;
                    msg.set_verdict(nfq::Verdict::Drop);
                    give(&mut queue, &mut rules, msg);
                }
                Decision::Release { hold, flip_bit } => {
                    if let Some(bit) = flip_bit {
                        rule.stats.corrupted += 1;
                        let mut p = msg.get_payload().to_vec();
                        p[bit / 8] ^= 1 << (bit % 8);
                        msg.set_payload(p);
                    }
                    msg.set_verdict(nfq::Verdict::Accept);
                    if hold.is_zero() {
                        give(&mut queue, &mut rules, msg);
                    } else {
                        rule.stats.delayed += 1;
                        order += 1;
                        held.push(Held { due: Instant::now() + hold, order, msg });
                    }
                }
            }
        }

        let now = Instant::now() + Duration::from_micros(50);
        while held.peek().is_some_and(|h| h.due <= now) {
            let h = held.pop().expect("peeked");
            give(&mut queue, &mut rules, h.msg);
        }
    }
}

// ---- the daemon -------------------------------------------------------------------------------

enum Installed {
    Impairment { plan: Plan },
    Block { plan: Plan },
}

/// The engine's state inside one namespace.
pub struct Engine {
    iface: String,
    backend: Backend,
    worker: Option<QueueWorker>,
    slots: HashMap<String, (u16, Installed)>,
    next_slot: u16,
    htb_ready: [bool; 2],
}

impl Engine {
    pub fn new(iface: &str, backend: Backend) -> Engine {
        Engine { iface: iface.to_owned(), backend, worker: None, slots: HashMap::new(), next_slot: 1, htb_ready: [false; 2] }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn alloc_slot(&mut self) -> Result<u16, String> {
        let used: std::collections::HashSet<u16> = self.slots.values().map(|(s, _)| *s).collect();
        for _ in 0..4000 {
            let s = self.next_slot;
            self.next_slot = if self.next_slot >= 4000 { 1 } else { self.next_slot + 1 };
            if !used.contains(&s) {
                return Ok(s);
            }
        }
        Err("too many rules in one namespace".into())
    }

    pub fn handle(&mut self, req: Request) -> Response {
        let start = Instant::now();
        let r = match req {
            Request::Set { key, selector, impairment, seed } => self.set(key, selector, impairment, seed),
            Request::Block { key, peers_out, peers_in, exempt_ports } => self.block(key, &peers_out, &peers_in, &exempt_ports),
            Request::Unset { key } => self.unset(&key).map(|_| vec![]),
            Request::Stats => {
                let stats = self.stats();
                return Response { ok: true, stats: Some(stats), ..Default::default() };
            }
            Request::Clear => self.clear().map(|_| vec![]),
        };
        let elapsed_us = start.elapsed().as_micros() as u64;
        match r {
            Ok(mechanisms) => Response { ok: true, elapsed_us, mechanisms, ..Default::default() },
            Err(e) => Response { ok: false, error: Some(e), elapsed_us, ..Default::default() },
        }
    }

    fn set(&mut self, key: String, sel: Selector, imp: Impairment, seed: u64) -> Result<Vec<String>, String> {
        if let Some((slot, Installed::Impairment { plan: old })) = self.slots.get(&key) {
            let same_rules = rules::plan_impairment(self.backend, &self.iface, &sel, *slot, &imp).ok();
            if let (Some(new), Some(q), Some(w)) = (same_rules.filter(|n| n == old), old.queue, self.worker.as_ref()) {
                // Only per-packet parameters changed (e.g. loss added to a delay): swap the decision
                // maker in place, so packets already held keep their release times.
                let (done, wait) = mpsc::channel();
                w.send(QueueCmd::Bind { queue: q, key: key.clone(), impairer: Box::new(Impairer::new(imp, seed)), done });
                wait.recv().map_err(|_| "NFQUEUE worker stopped".to_string())??;
                return Ok(new.mechanisms);
            }
        }
        if self.slots.contains_key(&key) {
            self.unset(&key)?;
        }
        if imp.is_empty() {
            return Ok(vec![]);
        }
        let slot = self.alloc_slot()?;
        let plan = rules::plan_impairment(self.backend, &self.iface, &sel, slot, &imp).map_err(|e| e.0)?;
        if rules::needs_htb(self.backend, &imp) {
            let i = match sel.direction {
                Direction::Egress => 0,
                Direction::Ingress => 1,
            };
            if !self.htb_ready[i] {
                run_steps(&rules::htb_root_steps(&self.iface, sel.direction, &sel.exempt_ports))?;
                self.htb_ready[i] = true;
            }
        }
        if let Some(q) = plan.queue {
            if self.worker.is_none() {
                self.worker = Some(QueueWorker::start()?);
            }
            let (done, wait) = mpsc::channel();
            let impairer = Box::new(Impairer::new(imp.clone(), seed));
            self.worker.as_ref().expect("started").send(QueueCmd::Bind { queue: q, key: key.clone(), impairer, done });
            wait.recv().map_err(|_| "NFQUEUE worker stopped".to_string())??;
        }
        if let Err(e) = run_steps(&plan.install) {
            let _ = self.remove_plan(&plan);
            return Err(e);
        }
        let mechanisms = plan.mechanisms.clone();
        self.slots.insert(key, (slot, Installed::Impairment { plan }));
        Ok(mechanisms)
    }

    fn block(&mut self, key: String, out: &[Ipv4Addr], inp: &[Ipv4Addr], exempt: &[u16]) -> Result<Vec<String>, String> {
        if self.slots.contains_key(&key) {
            self.unset(&key)?;
        }
        let slot = self.alloc_slot()?;
        let plan = rules::plan_block(slot, out, inp, exempt);
        run_steps(&plan.install)?;
        let m = plan.mechanisms.clone();
        self.slots.insert(key, (slot, Installed::Block { plan }));
        Ok(m)
    }

    fn remove_plan(&mut self, plan: &Plan) -> Result<(), String> {
        // Steering rules go first, so no packet is queued to a queue nobody serves.
        let mut first_err = None;
        for step in &plan.remove {
            if let Err(e) = run_step(step) {
                first_err.get_or_insert(e);
            }
        }
        if let (Some(q), Some(w)) = (plan.queue, self.worker.as_ref()) {
            let (done, wait) = mpsc::channel();
            w.send(QueueCmd::Unbind { queue: q, done });
            let _ = wait.recv_timeout(Duration::from_secs(2));
        }
        first_err.map_or(Ok(()), Err)
    }

    fn unset(&mut self, key: &str) -> Result<(), String> {
        let Some((_, installed)) = self.slots.remove(key) else { return Ok(()) };
        match installed {
            Installed::Impairment { plan, .. } | Installed::Block { plan } => self.remove_plan(&plan),
        }
    }

    fn stats(&self) -> HashMap<String, RuleStats> {
        let Some(w) = &self.worker else { return HashMap::new() };
        let (reply, rx) = mpsc::channel();
        w.send(QueueCmd::Stats { reply });
        rx.recv_timeout(Duration::from_secs(2)).unwrap_or_default()
    }

    /// Removes every rule and the htb roots.
    pub fn clear(&mut self) -> Result<(), String> {
        let keys: Vec<String> = self.slots.keys().cloned().collect();
        let mut first_err = None;
        for k in keys {
            if let Err(e) = self.unset(&k) {
                first_err.get_or_insert(e);
            }
        }
        for (i, dir) in [Direction::Egress, Direction::Ingress].into_iter().enumerate() {
            if self.htb_ready[i] {
                for s in rules::htb_root_teardown(&self.iface, dir) {
                    let _ = run_step(&s);
                }
                self.htb_ready[i] = false;
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

static TERMINATED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    TERMINATED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// `ekc-nemesis serve`: the request loop. Returns the process exit code.
pub fn serve(iface: &str, choice: BackendChoice) -> i32 {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let (backend, has_netem) = resolve_backend(choice);
    let swept = if backend.is_ok() { sweep_stale(iface) } else { vec![] };
    let hello = match &backend {
        Ok(b) => Hello { ok: true, backend: Some(*b), kernel_has_netem: has_netem, error: None, swept },
        Err(e) => Hello { ok: false, backend: None, kernel_has_netem: has_netem, error: Some(e.clone()), swept },
    };
    let _ = writeln!(out, "{}", serde_json::to_string(&hello).expect("serializable"));
    let _ = out.flush();
    let Ok(backend) = backend else { return 2 };
    // SIGTERM/SIGINT interrupt the blocking read (no SA_RESTART) so we clean up before exiting.
    // SAFETY: installing a handler that only stores to an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_term as extern "C" fn(libc::c_int) as usize;
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
    }
    let mut engine = Engine::new(iface, backend);
    let stdin = io::stdin();
    let mut line = String::new();
    let mut input = stdin.lock();
    loop {
        line.clear();
        let n = input.read_line(&mut line);
        if TERMINATED.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        match n {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
        if line.trim().is_empty() {
            continue;
        }
        let resp = match serde_json::from_str::<Request>(&line) {
            Ok(req) => engine.handle(req),
            Err(e) => Response { ok: false, error: Some(format!("bad request: {e}")), ..Default::default() },
        };
        let _ = writeln!(out, "{}", serde_json::to_string(&resp).expect("serializable"));
        let _ = out.flush();
    }
    match engine.clear() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ekc-nemesis: cleanup incomplete: {e}");
            1
        }
    }
}
