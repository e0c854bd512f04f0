//! Kernel rule plans (pure): the `tc`, `iptables-restore` and `nft` steps that install and remove one
//! engine rule inside the target's network namespace, for each backend. Kept free of I/O so the exact
//! commands are unit-tested and can be shown in reports.
//!
//! Layout inside a namespace (slot `n` is the engine's small integer for one rule):
//! - mangle chain `EKCN<n>` steers matching UDP to NFQUEUE `n` (nfqueue backend, delay/loss/reorder/corrupt);
//! - nft table `netdev ekcn<n>` duplicates on egress (nfqueue backend);
//! - an htb root `1:` on the device (or on IFB `ekcifb0` for ingress) with class `1:<0x100+n>`, whose
//!   leaf is `netem` (netem backend) or a `bfifo` (rate limits on the nfqueue backend);
//! - filter chains `EKCO<n>`/`EKCI<n>` drop a partition's peers on OUTPUT/INPUT (both backends).
//!
//! Control-port traffic (control.md, UDP 9992 by default) is always exempt.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::model::{Direction, Distribution, Impairment, LossModel};

/// The IFB device that carries a namespace's ingress traffic through egress qdiscs.
pub const IFB_DEVICE: &str = "ekcifb0";
/// nfmark given to packets the duplication rule has cloned, so clones are not cloned again.
pub const DUP_MARK: u32 = 0x454b_4300;

/// Which packets one engine rule touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selector {
    pub direction: Direction,
    /// Only packets to (egress) or from (ingress) this address; `None` = all.
    #[serde(default)]
    pub peer: Option<Ipv4Addr>,
    /// UDP ports never touched (source or destination).
    #[serde(default = "default_exempt")]
    pub exempt_ports: Vec<u16>,
}

pub fn default_exempt() -> Vec<u16> {
    vec![crate::model::CONTROL_PORT]
}

/// The packet backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// `tc qdisc ... netem` (kernels with sch_netem).
    Netem,
    /// The userspace NFQUEUE engine plus nftables dup and htb (kernels without sch_netem).
    Nfqueue,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Netem => "netem",
            Backend::Nfqueue => "nfqueue",
        }
    }
}

/// One command run inside the namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "tool", content = "input", rename_all = "snake_case")]
pub enum Step {
    /// argv of `tc` or `ip`.
    Run(Vec<String>),
    /// A script for `iptables-restore --noflush`.
    IptablesRestore(String),
    /// A script for `nft -f -`.
    Nft(String),
}

impl Step {
    fn run(args: &str) -> Step {
        Step::Run(args.split_whitespace().map(str::to_owned).collect())
    }
}

/// What to run to install a rule, and to remove it again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub install: Vec<Step>,
    pub remove: Vec<Step>,
    /// Names of the mechanisms used (for the report), e.g. `nfqueue:3`, `nft-dup`, `htb`.
    pub mechanisms: Vec<String>,
    /// NFQUEUE number the engine must serve, if any.
    pub queue: Option<u16>,
}

/// A rule that cannot be expressed on a backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unsupported(pub String);

fn class_id(slot: u16) -> String {
    format!("1:{:x}", 0x100 + u32::from(slot))
}

fn exempt_list(ports: &[u16]) -> String {
    ports.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
}

/// The device whose egress qdisc sees the selected direction.
fn qdisc_device(iface: &str, direction: Direction) -> &str {
    match direction {
        Direction::Egress => iface,
        Direction::Ingress => IFB_DEVICE,
    }
}

/// One-time preparation of a device for htb classes (idempotent at the engine level: run once).
pub fn htb_root_steps(iface: &str, direction: Direction, exempt: &[u16]) -> Vec<Step> {
    let mut steps = Vec::new();
    if direction == Direction::Ingress {
        steps.push(Step::run(&format!("ip link add {IFB_DEVICE} type ifb")));
        steps.push(Step::run(&format!("ip link set {IFB_DEVICE} up")));
        steps.push(Step::run(&format!("tc qdisc add dev {iface} handle ffff: ingress")));
        steps.push(Step::run(&format!(
            // u32 match-all rather than `matchall`: kernels without cls_matchall (this project's CI)
            // still have u32.
            "tc filter add dev {iface} parent ffff: protocol ip prio 1 u32 match u32 0 0 action mirred egress redirect dev {IFB_DEVICE}"
        )));
    }
    let dev = qdisc_device(iface, direction);
    steps.push(Step::run(&format!("tc qdisc replace dev {dev} root handle 1: htb default 1")));
    steps.push(Step::run(&format!("tc class add dev {dev} parent 1: classid 1:1 htb rate 10gbit")));
    for port in exempt {
        for field in ["sport", "dport"] {
            steps.push(Step::run(&format!(
                "tc filter add dev {dev} parent 1: protocol ip prio 1 u32 match ip protocol 17 0xff match ip {field} {port} 0xffff flowid 1:1"
            )));
        }
    }
    steps
}

/// Removes what [`htb_root_steps`] installed.
pub fn htb_root_teardown(iface: &str, direction: Direction) -> Vec<Step> {
    match direction {
        Direction::Egress => vec![Step::run(&format!("tc qdisc del dev {iface} root"))],
        Direction::Ingress => vec![
            Step::run(&format!("tc qdisc del dev {iface} ingress")),
            Step::run(&format!("ip link del {IFB_DEVICE}")),
        ],
    }
}

/// The `netem` qdisc arguments for an impairment (tc-netem(8) syntax).
pub fn netem_args(imp: &Impairment) -> Vec<String> {
    let mut a: Vec<String> = vec!["netem".into(), "limit".into(), "100000".into()];
    let delay = imp.delay.map(|d| (d.delay_ms, d.jitter_ms, d.distribution)).or(imp.reorder.map(|r| (r.delay_ms, 0.0, Distribution::Uniform)));
    if let Some((ms, jitter, dist)) = delay {
        a.extend(["delay".into(), format!("{ms}ms")]);
        if jitter > 0.0 {
            a.push(format!("{jitter}ms"));
            if dist == Distribution::Normal {
                a.extend(["distribution".into(), "normal".into()]);
            }
        }
    }
    match imp.loss {
        Some(LossModel::Random { percent }) => a.extend(["loss".into(), "random".into(), format!("{percent}%")]),
        Some(LossModel::GilbertElliott { p, r, one_minus_h, one_minus_k }) => a.extend([
            "loss".into(),
            "gemodel".into(),
            format!("{p}%"),
            format!("{r}%"),
            format!("{one_minus_h}%"),
            format!("{one_minus_k}%"),
        ]),
        None => {}
    }
    if let Some(p) = imp.duplicate_percent {
        a.extend(["duplicate".into(), format!("{p}%")]);
    }
    if let Some(p) = imp.corrupt_percent {
        a.extend(["corrupt".into(), format!("{p}%")]);
    }
    if let Some(r) = imp.reorder {
        a.extend(["reorder".into(), format!("{}%", r.percent)]);
    }
    a
}

/// htb class + leaf + u32 filter for slot `slot`; the leaf is given as tc arguments.
fn class_steps(iface: &str, sel: &Selector, slot: u16, rate_kbit: Option<(u32, u32)>, leaf: Vec<String>) -> (Vec<Step>, Vec<Step>) {
    let dev = qdisc_device(iface, sel.direction);
    let class = class_id(slot);
    let prio = 10 + u32::from(slot);
    let rate = match rate_kbit {
        Some((kbit, burst)) => format!("rate {kbit}kbit ceil {kbit}kbit burst {burst}"),
        None => "rate 10gbit".to_string(),
    };
    let mut install = vec![Step::run(&format!("tc class add dev {dev} parent 1: classid {class} htb {rate}"))];
    let mut leaf_cmd: Vec<String> =
        format!("tc qdisc add dev {dev} parent {class} handle {:x}:", 0x100 + u32::from(slot)).split_whitespace().map(str::to_owned).collect();
    leaf_cmd.extend(leaf);
    install.push(Step::Run(leaf_cmd));
    let mut filter = format!("tc filter add dev {dev} parent 1: protocol ip prio {prio} u32 match ip protocol 17 0xff");
    if let Some(peer) = sel.peer {
        let field = match sel.direction {
            Direction::Egress => "dst",
            Direction::Ingress => "src",
        };
        filter.push_str(&format!(" match ip {field} {peer}/32"));
    }
    filter.push_str(&format!(" flowid {class}"));
    install.push(Step::run(&filter));
    let remove = vec![
        Step::run(&format!("tc filter del dev {dev} parent 1: prio {prio}")),
        Step::run(&format!("tc class del dev {dev} classid {class}")),
    ];
    (install, remove)
}

/// Plans one impairment rule on `backend`.
pub fn plan_impairment(backend: Backend, iface: &str, sel: &Selector, slot: u16, imp: &Impairment) -> Result<Plan, Unsupported> {
    let mut plan = Plan::default();
    match backend {
        Backend::Netem => {
            let rate = imp.rate.map(|r| (r.kbit, r.burst_bytes));
            let (i, r) = class_steps(iface, sel, slot, rate, netem_args(imp));
            plan.install = i;
            plan.remove = r;
            plan.mechanisms.push(format!("tc-netem:{}", class_id(slot)));
            if sel.direction == Direction::Ingress {
                plan.mechanisms.push("ifb".into());
            }
        }
        Backend::Nfqueue => {
            if imp.needs_packet_engine() {
                let chain = format!("EKCN{slot}");
                let (hook, dev_flag, peer_flag) = match sel.direction {
                    Direction::Egress => ("POSTROUTING", "-o", "-d"),
                    Direction::Ingress => ("PREROUTING", "-i", "-s"),
                };
                let peer = sel.peer.map(|p| format!(" {peer_flag} {p}/32")).unwrap_or_default();
                let exempt = if sel.exempt_ports.is_empty() {
                    String::new()
                } else {
                    format!(" -m multiport ! --ports {}", exempt_list(&sel.exempt_ports))
                };
                plan.install.push(Step::IptablesRestore(format!(
                    "*mangle\n:{chain} - [0:0]\n-A {chain} -p udp{peer}{exempt} -m mark ! --mark {DUP_MARK:#x} -j NFQUEUE --queue-num {slot} --queue-bypass\n-A {hook} {dev_flag} {iface} -j {chain}\nCOMMIT\n"
                )));
                plan.remove.push(Step::IptablesRestore(format!(
                    "*mangle\n-D {hook} {dev_flag} {iface} -j {chain}\n-F {chain}\n-X {chain}\nCOMMIT\n"
                )));
                plan.queue = Some(slot);
                plan.mechanisms.push(format!("nfqueue:{slot}"));
            }
            if let Some(percent) = imp.duplicate_percent {
                if sel.direction == Direction::Ingress {
                    return Err(Unsupported(
                        "the nfqueue backend duplicates on egress only (nft netdev `dup` transmits); declare duplication on the sender: target {from, to} or {node, direction: egress}".into(),
                    ));
                }
                let table = format!("ekcn{slot}");
                let peer = sel.peer.map(|p| format!(" ip daddr {p}")).unwrap_or_default();
                let exempt = if sel.exempt_ports.is_empty() {
                    String::new()
                } else {
                    let l = exempt_list(&sel.exempt_ports);
                    format!(" udp sport != {{ {l} }} udp dport != {{ {l} }}")
                };
                let threshold = (percent * 100.0).round() as u32;
                plan.install.push(Step::Nft(format!(
                    "table netdev {table} {{\n  chain clone {{\n    type filter hook egress device \"{iface}\" priority 0;\n    meta mark {DUP_MARK:#x} return\n    meta protocol ip ip protocol udp{peer}{exempt} numgen random mod 10000 < {threshold} meta mark set {DUP_MARK:#x} dup to \"{iface}\"\n  }}\n}}\n"
                )));
                plan.remove.push(Step::Nft(format!("delete table netdev {table}\n")));
                plan.mechanisms.push("nft-dup".into());
            }
            if let Some(rate) = imp.rate {
                // bfifo holds what the bucket cannot pass for at most `latency_ms`, like tbf's latency.
                let limit = (u64::from(rate.kbit) * 1000 / 8 * u64::from(rate.latency_ms) / 1000).max(u64::from(rate.burst_bytes));
                let (i, r) = class_steps(iface, sel, slot, Some((rate.kbit, rate.burst_bytes)), vec!["bfifo".into(), "limit".into(), limit.to_string()]);
                plan.install.extend(i);
                // Remove in reverse order of the mechanisms: tc first is fine, they are independent.
                plan.remove.extend(r);
                plan.mechanisms.push(format!("tc-htb:{}", class_id(slot)));
                if sel.direction == Direction::Ingress {
                    plan.mechanisms.push("ifb".into());
                }
            }
        }
    }
    Ok(plan)
}

/// True when the plan needs the htb root on the selected device.
pub fn needs_htb(backend: Backend, imp: &Impairment) -> bool {
    backend == Backend::Netem || imp.rate.is_some()
}

/// Plans a partition block: drop everything to `peers_out` (OUTPUT) and from `peers_in` (INPUT),
/// except control-port UDP. Identical on both backends.
pub fn plan_block(slot: u16, peers_out: &[Ipv4Addr], peers_in: &[Ipv4Addr], exempt: &[u16]) -> Plan {
    let (out, inp) = (format!("EKCO{slot}"), format!("EKCI{slot}"));
    let mut s = format!("*filter\n:{out} - [0:0]\n:{inp} - [0:0]\n");
    if !exempt.is_empty() {
        let l = exempt_list(exempt);
        s.push_str(&format!("-A {out} -p udp -m multiport --ports {l} -j RETURN\n-A {inp} -p udp -m multiport --ports {l} -j RETURN\n"));
    }
    for p in peers_out {
        s.push_str(&format!("-A {out} -d {p}/32 -j DROP\n"));
    }
    for p in peers_in {
        s.push_str(&format!("-A {inp} -s {p}/32 -j DROP\n"));
    }
    s.push_str(&format!("-I OUTPUT -j {out}\n-I INPUT -j {inp}\nCOMMIT\n"));
    Plan {
        install: vec![Step::IptablesRestore(s)],
        remove: vec![Step::IptablesRestore(format!(
            "*filter\n-D OUTPUT -j {out}\n-D INPUT -j {inp}\n-F {out}\n-X {out}\n-F {inp}\n-X {inp}\nCOMMIT\n"
        ))],
        mechanisms: vec![format!("iptables:{out}/{inp}")],
        queue: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DelaySpec, RateSpec, ReorderSpec};

    fn sel(direction: Direction, peer: Option<&str>) -> Selector {
        Selector { direction, peer: peer.map(|p| p.parse().unwrap()), exempt_ports: vec![9992] }
    }

    #[test]
    fn netem_arguments_follow_tc_netem_syntax() {
        let imp = Impairment {
            delay: Some(DelaySpec { delay_ms: 40.0, jitter_ms: 5.0, distribution: Distribution::Normal }),
            loss: Some(LossModel::GilbertElliott { p: 5.0, r: 30.0, one_minus_h: 100.0, one_minus_k: 0.0 }),
            duplicate_percent: Some(1.0),
            corrupt_percent: Some(0.5),
            reorder: Some(ReorderSpec { percent: 25.0, delay_ms: 40.0 }),
            rate: None,
        };
        assert_eq!(
            netem_args(&imp).join(" "),
            "netem limit 100000 delay 40ms 5ms distribution normal loss gemodel 5% 30% 100% 0% duplicate 1% corrupt 0.5% reorder 25%"
        );
    }

    #[test]
    fn netem_plan_uses_an_htb_class_with_a_netem_leaf_and_a_peer_filter() {
        let imp = Impairment { loss: Some(LossModel::Random { percent: 10.0 }), rate: Some(RateSpec { kbit: 800, burst_bytes: 16384, latency_ms: 50 }), ..Default::default() };
        let plan = plan_impairment(Backend::Netem, "eth0", &sel(Direction::Egress, Some("10.1.0.3")), 2, &imp).unwrap();
        let text: Vec<String> = plan.install.iter().map(|s| format!("{s:?}")).collect();
        assert!(text[0].contains("\"classid\", \"1:102\", \"htb\", \"rate\", \"800kbit\""), "{}", text[0]);
        assert!(text[1].contains("\"netem\", \"limit\", \"100000\", \"loss\", \"random\", \"10%\""), "{}", text[1]);
        assert!(text[2].contains("\"dst\", \"10.1.0.3/32\""), "{}", text[2]);
        assert_eq!(plan.queue, None);
    }

    #[test]
    fn nfqueue_plan_steers_udp_except_control_and_duplicates_on_egress() {
        let imp = Impairment { loss: Some(LossModel::Random { percent: 10.0 }), duplicate_percent: Some(5.0), ..Default::default() };
        let plan = plan_impairment(Backend::Nfqueue, "eth0", &sel(Direction::Egress, Some("10.1.0.3")), 7, &imp).unwrap();
        let Step::IptablesRestore(ipt) = &plan.install[0] else { panic!() };
        assert!(ipt.contains("-A EKCN7 -p udp -d 10.1.0.3/32 -m multiport ! --ports 9992 -m mark ! --mark 0x454b4300 -j NFQUEUE --queue-num 7 --queue-bypass"), "{ipt}");
        assert!(ipt.contains("-A POSTROUTING -o eth0 -j EKCN7"));
        let Step::Nft(nft) = &plan.install[1] else { panic!() };
        assert!(nft.contains("numgen random mod 10000 < 500"), "{nft}");
        assert!(nft.contains("udp sport != { 9992 } udp dport != { 9992 }"));
        assert_eq!(plan.queue, Some(7));
        assert_eq!(plan.mechanisms, vec!["nfqueue:7", "nft-dup"]);
    }

    #[test]
    fn nfqueue_refuses_ingress_duplication_with_advice() {
        let imp = Impairment { duplicate_percent: Some(5.0), ..Default::default() };
        let err = plan_impairment(Backend::Nfqueue, "eth0", &sel(Direction::Ingress, None), 1, &imp).unwrap_err();
        assert!(err.0.contains("egress only"));
    }

    #[test]
    fn block_plan_exempts_control_and_drops_both_ways() {
        let p = plan_block(3, &["10.0.0.2".parse().unwrap()], &["10.0.0.2".parse().unwrap()], &[9992]);
        let Step::IptablesRestore(s) = &p.install[0] else { panic!() };
        assert!(s.contains("-A EKCO3 -p udp -m multiport --ports 9992 -j RETURN"));
        assert!(s.contains("-A EKCO3 -d 10.0.0.2/32 -j DROP"));
        assert!(s.contains("-A EKCI3 -s 10.0.0.2/32 -j DROP"));
    }
}
