//! `ekc-nemesis`: the fault engine binary. `serve` runs inside a target's network namespace (the
//! helper container's entrypoint); `probe-kernel` says which backend this kernel supports; `send`
//! and `measure` generate probe traffic and judge captures, for manual checks and benchmarks.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ekc_faults::engine::{self, BackendChoice};
use ekc_faults::measure::{self, ProbeFlow, VerifyContext};
use ekc_faults::model::Fault;

#[derive(Parser)]
#[command(name = "ekc-nemesis", version, about = "ekconform fault engine (netem or NFQUEUE backend)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve JSON-line requests on stdin inside this network namespace; removes all rules at EOF.
    Serve {
        #[arg(long, default_value = "eth0")]
        iface: String,
        /// auto | netem | nfqueue
        #[arg(long, default_value = "auto")]
        backend: BackendChoice,
    },
    /// Report whether sch_netem works here and which backend `auto` picks.
    ProbeKernel,
    /// Send numbered probe datagrams.
    Send {
        #[arg(long)]
        to: SocketAddr,
        #[arg(long, default_value = "0.0.0.0:0")]
        bind: SocketAddr,
        #[arg(long, default_value_t = 5000)]
        count: u32,
        #[arg(long, default_value_t = 100)]
        interval_us: u64,
        #[arg(long, default_value_t = 64)]
        size: usize,
        #[arg(long, default_value_t = 1)]
        run: u32,
    },
    /// Run a fault schedule (JSON file) on a topology (JSON file: nodes as netns or containers);
    /// prints the applied record. Runs until the schedule's last action, then heals everything.
    Run {
        #[arg(long)]
        topology: PathBuf,
        #[arg(long)]
        schedule: PathBuf,
        #[arg(long, default_value = "auto")]
        backend: BackendChoice,
    },
    /// Measure a probe flow in a capture against a fault spec (JSON); prints the verification.
    Measure {
        /// Receive-side (or bridge) capture.
        #[arg(long)]
        rx: PathBuf,
        /// Optional capture taken before the fault point.
        #[arg(long)]
        tx: Option<PathBuf>,
        /// The fault, as a scenario declares it (JSON).
        #[arg(long)]
        fault: String,
        /// The flow as JSON: {"src","dst","dport","run","count"}.
        #[arg(long)]
        flow: String,
        #[arg(long, default_value_t = 0.0)]
        baseline_ms: f64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Serve { iface, backend } => ExitCode::from(engine::serve(&iface, backend) as u8),
        Cmd::ProbeKernel => {
            let (chosen, has) = engine::resolve_backend(BackendChoice::Auto);
            let probe = engine::probe_netem().err();
            println!(
                "{}",
                serde_json::json!({"kernel_has_netem": has, "auto_backend": chosen.ok(), "netem_probe_error": probe})
            );
            ExitCode::SUCCESS
        }
        Cmd::Send { to, bind, count, interval_us, size, run } => {
            let r = UdpSocket::bind(bind).and_then(|s| ekc_faults::probe::send_probes(&s, to, run, count, size, Duration::from_micros(interval_us)));
            match r {
                Ok(took) => {
                    println!("{}", serde_json::json!({"sent": count, "seconds": took.as_secs_f64()}));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("ekc-nemesis send: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Run { topology, schedule, backend } => {
            let go = || -> Result<Vec<ekc_faults::AppliedFault>, String> {
                let topo: ekc_faults::cli_run::Topology =
                    serde_json::from_slice(&std::fs::read(&topology).map_err(|e| format!("{}: {e}", topology.display()))?).map_err(|e| format!("--topology: {e}"))?;
                let sched: ekc_faults::Schedule =
                    serde_json::from_slice(&std::fs::read(&schedule).map_err(|e| format!("{}: {e}", schedule.display()))?).map_err(|e| format!("--schedule: {e}"))?;
                let engine = std::env::current_exe().map_err(|e| e.to_string())?;
                ekc_faults::cli_run::run(topo, &sched, backend, engine).map_err(|e| e.to_string())
            };
            match go() {
                Ok(record) => {
                    println!("{}", serde_json::to_string_pretty(&record).expect("serializable"));
                    if record.iter().all(|r| r.error.is_none()) { ExitCode::SUCCESS } else { ExitCode::from(3) }
                }
                Err(e) => {
                    eprintln!("ekc-nemesis run: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Cmd::Measure { rx, tx, fault, flow, baseline_ms } => {
            let run = || -> Result<measure::Verification, String> {
                let fault: Fault = serde_json::from_str(&fault).map_err(|e| format!("--fault: {e}"))?;
                fault.validate().map_err(|e| format!("--fault: {e}"))?;
                let flow: ProbeFlow = serde_json::from_str(&flow).map_err(|e| format!("--flow: {e}"))?;
                let rx = measure::read_capture(&rx).map_err(|e| e.to_string())?;
                let tx = tx.map(|p| measure::read_capture(&p)).transpose().map_err(|e| e.to_string())?;
                let ctx = VerifyContext { baseline_delay_ms: baseline_ms, ..Default::default() };
                Ok(measure::verify(&fault, &flow, &rx, tx.as_deref(), &ctx))
            };
            match run() {
                Ok(v) => {
                    println!("{}", serde_json::to_string_pretty(&v).expect("serializable"));
                    if v.all_within() { ExitCode::SUCCESS } else { ExitCode::from(3) }
                }
                Err(e) => {
                    eprintln!("ekc-nemesis measure: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
