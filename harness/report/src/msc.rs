//! Message sequence charts: a capture drawn as SVG with one vertical lane per node, one arrow per
//! datagram (multicast as a dot with a bar across every lane), frames cited by a finding in red,
//! and fault windows shaded. Hand-written SVG: it is a few element kinds, and a chart that size
//! has no axes a plotting library would help with.

use ekc_checkers::ingest::read_capture;
use ekc_checkers::trace::{decode, Body, Event, Nodes, Ports};
use ekc_checkers::wire::{Kor, RojBody};
use ekc_checkers::{CheckOptions, InputError};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

/// What to draw besides the messages.
#[derive(Debug, Clone, Default)]
pub struct ChartOptions {
    /// At most this many messages are drawn (the rest is counted in a footer line).
    pub max_messages: usize,
    /// Frames cited by findings: drawn in red.
    pub flagged_frames: BTreeSet<u64>,
    /// Fault windows `(start_s, end_s, label)` relative to the first captured datagram.
    pub faults: Vec<(f64, f64, String)>,
    /// Include the control protocol (the harness's own traffic).
    pub include_control: bool,
}

/// One message of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub frame: u64,
    pub t_s: f64,
    pub src: Ipv4Addr,
    /// `None` for multicast.
    pub dst: Option<Ipv4Addr>,
    pub label: String,
    pub class: &'static str,
}

/// The chart's content before drawing: lanes (address, name) in display order and messages.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub lanes: Vec<(Ipv4Addr, String)>,
    pub messages: Vec<Message>,
    pub omitted: usize,
}

fn label(ev: &Event) -> (String, &'static str) {
    match &ev.body {
        Body::Roj(m) => match &m.body {
            RojBody::Announce(a) => (format!("ANNOUNCE seq={}", a.seq), "roj"),
            RojBody::Propose(p) => (format!("PROPOSE {}={} v{}", p.key, p.value, p.version), "roj"),
            RojBody::Vote(v) => (format!("VOTE {}", if v.accept { "accept".to_string() } else { format!("reject {}", v.reason) }), "roj"),
            RojBody::Commit(c) => (format!("COMMIT {}={} v{}", c.key, c.value, c.version), "roj"),
            RojBody::Abort(a) => (format!("ABORT {}", a.reason), "roj"),
        },
        Body::RojBad(b) => (format!("ROJ invalid {}", b.clause), "bad"),
        Body::Kor(k) => {
            let l = match &k.frame {
                Kor::Gossip { event, .. } => format!("GOSSIP {}:{} hop {}", event.origin_id, event.origin_seq, event.hop_count),
                Kor::Ack { acks, .. } => format!("ACK {}", acks.iter().map(|(o, s)| format!("{o}:{s}")).collect::<Vec<_>>().join(",")),
                Kor::Request { origin, from_seq, to_seq, .. } => format!("REQUEST {origin}:{from_seq}..{to_seq}"),
                Kor::VvSync { lo, hi, .. } => format!("VV_SYNC {lo}..{hi}"),
            };
            (l, if k.violations.is_empty() { "kor" } else { "bad" })
        }
        Body::KorBad(b) => (format!("KOR invalid {}", b.clause), "bad"),
        Body::Mdns(m) => (if m.instances.is_empty() { "mDNS".into() } else { format!("mDNS {}", m.instances.iter().map(|x| x.node_id.as_str()).collect::<Vec<_>>().join(",")) }, "mdns"),
        Body::Ctl(c) => (
            match &c.cmd {
                Some(cmd) => format!("ctl {cmd}"),
                None => format!("ctl reply ok={}", c.ok.map(|b| b.to_string()).unwrap_or_else(|| "?".into())),
            },
            "ctl",
        ),
        Body::Other => (String::new(), "other"),
    }
}

/// Reads a capture into chart content.
pub fn chart_of_capture(pcap: &Path, check: &CheckOptions, opts: &ChartOptions) -> Result<Chart, InputError> {
    let ports = Ports { roj: check.roj_port, kor: check.kor_port, ctl: check.ctl_port };
    let mut nodes = Nodes::with_hints(&check.node_names);
    let mut t0 = None;
    let mut raw: Vec<(u64, u64, Ipv4Addr, Option<Ipv4Addr>, String, &'static str)> = Vec::new();
    let mut omitted = 0usize;
    read_capture(pcap, |d| {
        let ev = decode(d, ports);
        nodes.learn(&ev, ports);
        if matches!(ev.body, Body::Other) || (!opts.include_control && matches!(ev.body, Body::Ctl(_))) {
            return;
        }
        let t0 = *t0.get_or_insert(ev.ts_ns);
        if raw.len() >= opts.max_messages {
            omitted += 1;
            return;
        }
        let (l, class) = label(&ev);
        let dst = if ev.dst.ip().is_multicast() || ev.dst.ip().is_broadcast() { None } else { Some(*ev.dst.ip()) };
        raw.push((ev.frame, ev.ts_ns.saturating_sub(t0), *ev.src.ip(), dst, l, class));
    })?;
    let mut lane_ips: BTreeSet<Ipv4Addr> = BTreeSet::new();
    for (_, _, s, d, _, _) in &raw {
        lane_ips.insert(*s);
        if let Some(d) = d {
            lane_ips.insert(*d);
        }
    }
    let mut lanes: Vec<(Ipv4Addr, String)> = lane_ips.into_iter().map(|ip| (ip, nodes.name(ip))).collect();
    lanes.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    let messages = raw
        .into_iter()
        .map(|(frame, rel, src, dst, label, class)| Message { frame, t_s: rel as f64 / 1e9, src, dst, label, class })
        .collect();
    Ok(Chart { lanes, messages, omitted })
}

pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            c if (c as u32) < 0x20 => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

const LANE_W: f64 = 170.0;
const ROW_H: f64 = 18.0;
const TOP: f64 = 46.0;
const LEFT: f64 = 90.0;

/// Draws the chart as a standalone `<svg>` element.
pub fn render_svg(chart: &Chart, opts: &ChartOptions) -> String {
    let lanes = chart.lanes.len().max(1);
    let width = LEFT + LANE_W * lanes as f64 + 20.0;
    let height = TOP + ROW_H * (chart.messages.len() as f64 + 1.0) + 24.0;
    let x_of: BTreeMap<Ipv4Addr, f64> = chart.lanes.iter().enumerate().map(|(i, (ip, _))| (*ip, LEFT + LANE_W * (i as f64 + 0.5))).collect();
    let y_of = |i: usize| TOP + ROW_H * (i as f64 + 1.0);
    let mut o = String::new();
    let _ = write!(
        o,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="msc" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="monospace" font-size="11">"##
    );
    o.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>"##);
    o.push_str(r##"<style>.roj{stroke:#1f5fbf;fill:#1f5fbf}.kor{stroke:#2a8a3a;fill:#2a8a3a}.mdns{stroke:#8a6d1f;fill:#8a6d1f}.ctl{stroke:#888;fill:#888}.bad,.flagged{stroke:#c62828;fill:#c62828}text{stroke:none}</style>"##);
    // Fault windows: rows whose time falls in a window are shaded.
    for (start, end, what) in &opts.faults {
        let rows: Vec<usize> = chart.messages.iter().enumerate().filter(|(_, m)| m.t_s >= *start && m.t_s <= *end).map(|(i, _)| i).collect();
        if let (Some(a), Some(b)) = (rows.first(), rows.last()) {
            let y0 = y_of(*a) - ROW_H / 2.0;
            let y1 = y_of(*b) + ROW_H / 2.0;
            let _ = write!(
                o,
                r##"<rect class="fault" x="0" y="{y0:.1}" width="{width:.0}" height="{:.1}" fill="#ffb74d" fill-opacity="0.25"/><text x="4" y="{:.1}" fill="#b26a00">{}</text>"##,
                y1 - y0,
                y0 + 11.0,
                esc(what)
            );
        }
    }
    for (ip, name) in &chart.lanes {
        let x = x_of[ip];
        let _ = write!(
            o,
            r##"<text x="{x:.1}" y="16" text-anchor="middle" font-weight="bold">{}</text><text x="{x:.1}" y="30" text-anchor="middle" fill="#666">{ip}</text><line x1="{x:.1}" y1="{TOP:.1}" x2="{x:.1}" y2="{:.1}" stroke="#bbb" stroke-dasharray="4 3"/>"##,
            esc(name),
            height - 10.0
        );
    }
    for (i, m) in chart.messages.iter().enumerate() {
        let y = y_of(i);
        let class = if opts.flagged_frames.contains(&m.frame) { "flagged" } else { m.class };
        let _ = write!(o, r##"<text x="4" y="{:.1}" fill="#666">#{} {:.3}s</text>"##, y + 4.0, m.frame, m.t_s);
        let xs = x_of.get(&m.src).copied().unwrap_or(LEFT);
        let _ = write!(o, r##"<g class="{class}" data-frame="{}"><title>frame {} at {:.6}s: {}</title>"##, m.frame, m.frame, m.t_s, esc(&m.label));
        match m.dst.and_then(|d| x_of.get(&d).copied()) {
            Some(xd) if (xd - xs).abs() > 1.0 => {
                let _ = write!(o, r##"<line x1="{xs:.1}" y1="{y:.1}" x2="{xd:.1}" y2="{y:.1}" stroke-width="1.3" marker-end="url(#arrow)"/>"##);
                let _ = write!(o, r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"##, (xs + xd) / 2.0, y - 3.0, esc(&m.label));
            }
            _ => {
                // Multicast (or to self): a dot on the sender and a faint bar across all lanes.
                let _ = write!(
                    o,
                    r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke-opacity="0.25" stroke-width="3"/><circle cx="{xs:.1}" cy="{y:.1}" r="4"/><text x="{:.1}" y="{:.1}">{}</text>"##,
                    LEFT,
                    width - 20.0,
                    xs + 7.0,
                    y - 3.0,
                    esc(&m.label)
                );
            }
        }
        o.push_str("</g>");
    }
    if chart.omitted > 0 {
        let _ = write!(o, r##"<text x="4" y="{:.1}" fill="#666">… {} more message(s) not drawn</text>"##, height - 6.0, chart.omitted);
    }
    o.push_str("</svg>");
    o
}
