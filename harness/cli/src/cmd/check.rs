//! `ekconform check`: judges a capture (and optional final state dumps) and prints the report.
//! Exit 0 pass, 1 violations found, 2 the input could not be judged (reason on stderr): among
//! others a damaged capture (frame and byte offset named) or one without any EK-ROJ/EK-KOR
//! datagram. Frames cut by the snap length are counted in the report, not judged.
use ekc_checkers::{check_capture, render_json, render_junit, render_text, CheckOptions, Verdict};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Junit,
}

#[derive(clap::Args)]
pub struct Args {
    /// Capture to judge (pcap or pcapng; Ethernet, Linux SLL or SLL2 link layer); `-` reads
    /// standard input (`tcpdump -w - | ekconform check -`); FIFOs work too.
    pub capture: PathBuf,
    /// Directory of final state dumps (`<node_id>.json`), enables the convergence checker.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Run only these checkers (comma-separated: schema, commit-safety, gossip-order, discovery, convergence).
    #[arg(long, value_delimiter = ',')]
    pub checks: Option<Vec<String>>,
    /// EK-ROJ UDP port.
    #[arg(long, default_value_t = 9990)]
    pub roj_port: u16,
    /// EK-KOR UDP port.
    #[arg(long, default_value_t = 9991)]
    pub kor_port: u16,
    /// Control UDP port.
    #[arg(long, default_value_t = 9992)]
    pub ctl_port: u16,
    /// Allowance for capture timestamp granularity against deadlines, in ms.
    #[arg(long, default_value_t = 20)]
    pub time_slack_ms: u64,
    /// The capture shows every datagram sent (no fault dropped any before the capture point):
    /// enables the rules that judge a frame's absence (KOR-REQ-2, KOR-EMIT-2 numbering, KOR-AE-4).
    #[arg(long)]
    pub lossless: bool,
    /// The nodes' ANNOUNCE period (`EKC_ANNOUNCE_MS`), judged as ROJ-ANN-3 for `--under-test` nodes.
    #[arg(long, default_value_t = 1000)]
    pub announce_ms: u64,
    /// A node under test, which owes periodic ANNOUNCEs (ROJ-ANN-3) on a `--lossless` capture:
    /// `10.0.0.2`, or `10.0.0.2=mdns` when it also runs mDNS (ROJ-DISC-2) (repeatable). Without
    /// any, neither rule is judged (a fake peer owes nothing).
    #[arg(long = "under-test", value_parser = parse_under_test)]
    pub under_test: Vec<(std::net::Ipv4Addr, bool)>,
    /// Name an address: `10.0.0.2=rust-1` (repeatable); identities from the capture win.
    #[arg(long = "node", value_parser = parse_node)]
    pub nodes: Vec<(std::net::Ipv4Addr, String)>,
}

fn parse_under_test(s: &str) -> Result<(std::net::Ipv4Addr, bool), String> {
    let (ip, mdns) = match s.split_once('=') {
        Some((ip, "mdns")) => (ip, true),
        Some((_, other)) => return Err(format!("expected ADDRESS or ADDRESS=mdns, not ={other}")),
        None => (s, false),
    };
    Ok((ip.parse().map_err(|e| format!("{ip}: {e}"))?, mdns))
}

fn parse_node(s: &str) -> Result<(std::net::Ipv4Addr, String), String> {
    let (ip, name) = s.split_once('=').ok_or("expected ADDRESS=NAME")?;
    Ok((ip.parse().map_err(|e| format!("{ip}: {e}"))?, name.to_string()))
}

pub fn run(args: Args) -> ExitCode {
    let opts = CheckOptions {
        state_dir: args.state,
        roj_port: args.roj_port,
        kor_port: args.kor_port,
        ctl_port: args.ctl_port,
        checks: args.checks,
        node_names: args.nodes.into_iter().collect(),
        time_slack_ms: args.time_slack_ms,
        lossless: args.lossless,
        announce_period_ms: args.announce_ms,
        node_setup: (!args.under_test.is_empty()).then(|| args.under_test.iter().map(|(ip, mdns)| (*ip, ekc_checkers::NodeSetup { mdns: *mdns, static_peers: vec![] })).collect()),
        ..Default::default()
    };
    match check_capture(&args.capture, &opts) {
        Ok(report) => {
            let text = match args.format {
                Format::Text => render_text(&report),
                Format::Json => render_json(&report),
                Format::Junit => render_junit(&report),
            };
            print!("{text}");
            match report.verdict {
                Verdict::Pass => ExitCode::SUCCESS,
                Verdict::Fail => ExitCode::from(1),
            }
        }
        Err(e) => {
            eprintln!("ekconform check: cannot judge {}: {e}", args.capture.display());
            ExitCode::from(super::EXIT_UNJUDGEABLE)
        }
    }
}
