//! `ekconform certify`: certifies a vendor image. First the container-contract pre-check
//! (control.md: the image starts, answers control `ping`, claims capabilities whose commands it
//! supports (CTL-CAP-3), publishes `_roj._udp.local` with the ROJ-DISC-1 TXT keys, answers
//! `unsupported` to an unknown command), then every scenario the capability statement selects
//! (the node's claims without one), each in every mix with the vendor that fits the scenario's
//! cluster (homogeneous, with each reference node, all together or the largest that fits),
//! repeated to tell flakes from failures, then a bundle (directory + .tar.gz + SHA-256 manifest)
//! pinning what was tested with what, what ran and what did not and why — also when the
//! pre-check failed. The policy (mandatory capabilities, selection, minimum judged share) is
//! `ekc_lab::certify`. `--verify BUNDLE` checks a bundle's manifest.
//! Exit 0 certified (or, with `-s`, every selected case of the named scenarios passed: never
//! `certified`) / verified; 1 not certified (a selected case did not pass, not-applicable
//! included; a mandatory capability not claimed; too small a judged share; a failed pre-check) or
//! a broken bundle; 2 could not be judged.
use ekc_lab::cluster::Implementation;
use ekc_lab::docker;
use ekc_lab::{certify as certification, control, run};
use ekc_report::bundle::{create_bundle, sha256_file, tree_hash, verify_bundle, BundleInput};
use ekc_report::contract::{discovery_step, judge_announcement, parse_roj_instances, roj_query, statement_step, Step};
use serde_json::{json, Value};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(clap::Args)]
pub struct Args {
    /// The vendor's node image (must exist locally).
    #[arg(long, required_unless_present = "verify")]
    pub image: Option<String>,
    /// Capability statement (JSON: {"caps": [...]} or a list); compared with what the node claims.
    #[arg(long)]
    pub capabilities: Option<PathBuf>,
    /// Check a bundle (directory or .tar.gz) against its manifest instead of certifying.
    #[arg(long, value_name = "BUNDLE")]
    pub verify: Option<PathBuf>,
    /// Runs per case (pass rates separate flakes from failures).
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Only the pre-check (no scenario runs, no bundle).
    #[arg(long)]
    pub precheck_only: bool,
    /// Bundle an existing run directory instead of running the scenarios.
    #[arg(long, value_name = "RUN_DIR")]
    pub from_run: Option<PathBuf>,
    /// Where the bundle goes (default: reports/certify-<run-id>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Only these scenarios (default: the whole default catalogue).
    #[arg(long = "scenario", short = 's', value_delimiter = ',')]
    pub scenarios: Vec<String>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, short = 'j', default_value_t = 2)]
    pub jobs: usize,
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,
    #[arg(long, default_value = "vectors/scenarios")]
    pub scenario_dir: PathBuf,
    #[arg(long, default_value = "ekconform/helper:dev")]
    pub helper_image: String,
    /// Size cap of each case's capture file in MiB: frames past it are counted, not kept, and
    /// the case is an error (a capture that lost frames is never judged a pass).
    #[arg(long, value_name = "MIB", default_value_t = ekc_lab::capture::DEFAULT_MAX_BYTES >> 20)]
    pub capture_max_mb: u64,
    /// Backend for network faults (auto, netem, nfqueue), as for `ekconform run`.
    #[arg(long, default_value = "auto", value_parser = super::run::parse_backend)]
    pub fault_backend: ekc_lab::faults::BackendArg,
}

const VENDOR: &str = "vendor";
const NODE_ID: &str = "vendor-1";
const MODULE_ID: u8 = 7;

pub fn run(args: Args) -> ExitCode {
    if let Some(b) = &args.verify {
        return verify(b);
    }
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async move {
        match certify(args).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("ekconform certify: {e:#}");
                ExitCode::from(if e.is::<Interrupted>() { 130 } else { super::EXIT_UNJUDGEABLE })
            }
        }
    })
}

fn verify(path: &Path) -> ExitCode {
    match verify_bundle(path) {
        Ok(v) => {
            println!("{} file(s) match the manifest", v.checked);
            for p in &v.mismatched {
                println!("CHANGED  {p}");
            }
            for p in &v.missing {
                println!("MISSING  {p}");
            }
            for p in &v.unlisted {
                println!("UNLISTED {p}");
            }
            if let Some(p) = &v.pins {
                println!("suite {} commit {} seed {}", p["suite_version"], p["git_commit"], p["run"]["seed"]);
            }
            if v.ok() {
                println!("bundle verified");
                ExitCode::SUCCESS
            } else {
                println!("bundle does NOT verify");
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("ekconform certify --verify: {e}");
            ExitCode::from(super::EXIT_UNJUDGEABLE)
        }
    }
}

fn claimed_caps(path: &Path) -> anyhow::Result<Vec<String>> {
    let v: Value = serde_json::from_slice(&std::fs::read(path)?).map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", path.display()))?;
    let list = v.get("caps").unwrap_or(&v);
    list.as_array()
        .ok_or_else(|| anyhow::anyhow!("{}: expected {{\"caps\": [..]}} or a list of capability names", path.display()))?
        .iter()
        .map(|c| c.as_str().map(str::to_string).ok_or_else(|| anyhow::anyhow!("{}: capability names are strings", path.display())))
        .collect()
}

fn step(steps: &mut Vec<Step>, name: &str, clause: &str, pass: bool, detail: impl Into<String>) {
    record(steps, Step { name: name.into(), clause: clause.into(), pass, detail: detail.into() });
}

/// Prints a pre-check step as it is judged and keeps it for the bundle.
fn record(steps: &mut Vec<Step>, s: Step) {
    eprintln!("pre-check {:<34} {:<12} {}  {}", s.name, s.clause, if s.pass { "ok  " } else { "FAIL" }, s.detail);
    steps.push(s);
}

/// Listens for `_roj._udp.local` announcements on the test bridge (the host's gateway address),
/// querying once a second, until a conforming one from `node_ip` arrives or `budget` passes.
fn mdns_probe(gateway: Ipv4Addr, node_ip: Ipv4Addr, budget: Duration) -> Result<Vec<String>, String> {
    use socket2::{Domain, Protocol, Socket, Type};
    let group = Ipv4Addr::new(224, 0, 0, 251);
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(|e| e.to_string())?;
    s.set_reuse_address(true).map_err(|e| e.to_string())?;
    let _ = s.set_reuse_port(true);
    s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, 5353)).into()).map_err(|e| format!("binding UDP 5353: {e}"))?;
    s.join_multicast_v4(&group, &gateway).map_err(|e| format!("joining 224.0.0.251 on {gateway}: {e}"))?;
    s.set_multicast_if_v4(&gateway).map_err(|e| e.to_string())?;
    let sock: std::net::UdpSocket = s.into();
    sock.set_read_timeout(Some(Duration::from_millis(200))).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut last_query = None::<Instant>;
    let mut last_problems = vec!["no _roj._udp.local announcement from the node".to_string()];
    let mut buf = [0u8; 9000];
    while start.elapsed() < budget {
        if last_query.map(|t| t.elapsed() > Duration::from_secs(1)).unwrap_or(true) {
            let _ = sock.send_to(&roj_query(), SocketAddrV4::new(group, 5353));
            last_query = Some(Instant::now());
        }
        let Ok((n, from)) = sock.recv_from(&mut buf) else { continue };
        if from.ip() != std::net::IpAddr::V4(node_ip) {
            continue;
        }
        for a in parse_roj_instances(&buf[..n]) {
            let problems = judge_announcement(&a, NODE_ID, MODULE_ID, 9990, 9991);
            if problems.is_empty() {
                return Ok(vec![]);
            }
            last_problems = problems;
        }
    }
    Ok(last_problems)
}

async fn precheck(image: &str, statement: Option<&[String]>) -> anyhow::Result<(Vec<Step>, Vec<String>)> {
    let d = docker::connect().await?;
    let run_id = format!("certify-{:08x}", rand_u32());
    let case = "precheck";
    // An emulated-firmware image gets what its labels declare from the lab's whitelist, as in the
    // matrix (CTL-IMG-2); an image asking for more fails the contract without being started.
    let labels = docker::image_id(&d, image).await?.map(|(_, l)| l).unwrap_or_default();
    let profile = match ekc_lab::profile::NodeProfile::from_labels(&labels) {
        Ok(p) => p,
        Err(e) => {
            let mut steps = Vec::new();
            step(&mut steps, "asks only for what the lab grants", "CTL-IMG-2", false, e);
            return Ok((steps, Vec::new()));
        }
    };
    let net = docker::create_network(&d, &run_id, case, rand_u32() as u64).await?;
    let ip = net.addr(2);
    // The same container as a node of the matrix gets, on a network with the same host isolation.
    let env = vec![
        ("EKC_NODE_ID".into(), NODE_ID.into()),
        ("EKC_MODULE_ID".into(), MODULE_ID.to_string()),
        ("EKC_BIND_IP".into(), ip.to_string()),
        ("EKC_CTL_PORT".into(), "9992".into()),
        ("EKC_MDNS".into(), "1".into()),
    ];
    let spec = ekc_lab::cluster::node_container(format!("{run_id}-vendor-1"), image, env, (net.name.clone(), ip), &profile);
    let mut steps = Vec::new();
    let mut caps = Vec::new();
    let body = async {
        docker::install_bridge_rules(&d, &run_id, case, &net.bridge, true).await?;
        let t0 = Instant::now();
        let started = docker::run_container(&d, &run_id, case, &spec).await;
        step(&mut steps, "container starts", "CTL-ENV-1", started.is_ok(), started.as_ref().map(|_| "started".to_string()).unwrap_or_else(|e| format!("{e:#}")));
        let id = started?;
        caps = control_steps(SocketAddr::from((ip, 9992)), t0, statement, &mut steps).await;
        let gw = net.gateway();
        let mdns = tokio::task::spawn_blocking(move || mdns_probe(gw, ip, Duration::from_secs(8))).await?;
        record(&mut steps, discovery_step(mdns));
        let logs = docker::logs(&d, &id).await.unwrap_or_default();
        anyhow::Ok(logs)
    };
    // Ctrl-C (or SIGTERM) ends the pre-check, not the process: the container, its network and the
    // firewall rules are removed below either way; further signals wait for that.
    let outcome = tokio::select! {
        r = body => r,
        s = interrupted() => Err(Interrupted(format!("interrupted by {s} during the pre-check; its container, network and firewall rules are removed")).into()),
    };
    let swept = docker::sweep_run(&d, &run_id).await;
    if let Err(e) = swept {
        eprintln!("warning: removing pre-check objects of {run_id}: {e:#} (run `ekconform gc`)");
    }
    if let Err(e) = docker::remove_bridge_rules(&d, &run_id, case, &net.bridge, true).await {
        eprintln!("warning: removing the pre-check network's firewall rules: {e:#} (run `ekconform gc`)");
    }
    let logs = outcome?;
    steps.push(Step { name: "node log (first 4 KiB)".into(), clause: String::new(), pass: true, detail: logs.chars().take(4096).collect() });
    Ok((steps, caps))
}

/// The pre-check's control steps (CTL-CMD-1/2/13, CTL-CAP-3, the capability statement); returns
/// the capabilities the node claims.
async fn control_steps(ctl: SocketAddr, t0: Instant, statement: Option<&[String]>, steps: &mut Vec<Step>) -> Vec<String> {
    let mut caps = Vec::new();
    let ping = control::request(ctl, "ping", Value::Null, 50).await;
    step(steps, "answers control ping", "CTL-CMD-1", ping.is_ok(), match &ping {
        Ok(_) => format!("after {} ms", t0.elapsed().as_millis()),
        Err(e) => e.to_string(),
    });
    if ping.is_ok() {
        let unknown = control::request(ctl, "ekconform_unknown_cmd", Value::Null, 10).await;
        step(steps, "unknown command is `unsupported`", "CTL-CMD-13", matches!(&unknown, Err(e) if e.is_unsupported()), match &unknown {
            Ok(v) => format!("answered ok: {v}"),
            Err(e) => e.to_string(),
        });
        match control::request(ctl, "caps", Value::Null, 10).await {
            Ok(v) => {
                let list = v.get("caps").unwrap_or(&v);
                caps = list.as_array().map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_string)).collect()).unwrap_or_default();
                step(steps, "claims capabilities", "CTL-CMD-2", !caps.is_empty(), caps.join(","));
            }
            Err(e) => step(steps, "claims capabilities", "CTL-CMD-2", false, e.to_string()),
        }
        let unsupported = unsupported_claimed(ctl, &caps).await;
        step(steps, "claimed capabilities answer their commands", "CTL-CAP-3", unsupported.is_empty(), if unsupported.is_empty() { "no command of a claimed capability is `unsupported`".into() } else { format!("answered `unsupported` although its capability is claimed: {}", unsupported.join(", ")) });
        if let Some(st) = statement {
            record(steps, statement_step(st, &caps));
        }
    }
    caps
}

/// Commands (with harmless arguments: the pre-check node is thrown away) of every claimed
/// capability that answer `unsupported`, as `command (capability)` (CTL-CAP-3).
async fn unsupported_claimed(ctl: SocketAddr, caps: &[String]) -> Vec<String> {
    let probes = [
        ("state", Value::Null),
        ("peers", Value::Null),
        ("kv", json!({"offset": 0})),
        ("fields", json!({"offset": 0})),
        ("stats", Value::Null),
        ("log", json!({"origin": MODULE_ID, "from": 1})),
        ("propose", json!({"key": "ekc-precheck", "value": "x"})),
        ("set_clock_skew", json!({"offset_us": 0})),
    ];
    let mut out = Vec::new();
    for (cmd, args) in probes {
        let cap = control::capability_of(cmd);
        if caps.iter().any(|c| c == cap) && matches!(control::request(ctl, cmd, args, 10).await, Err(e) if e.is_unsupported()) {
            out.push(format!("{cmd} ({cap})"));
        }
    }
    out
}

/// Certification stopped by a signal (exit 130, like `ekconform run`).
#[derive(Debug)]
struct Interrupted(String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

/// The first SIGINT or SIGTERM.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return std::future::pending().await;
    };
    tokio::select! { _ = int.recv() => "SIGINT", _ = term.recv() => "SIGTERM" }
}

fn rand_u32() -> u32 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    t ^ std::process::id().rotate_left(16)
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether the working tree differs from the pinned commit (then the commit alone does not say
/// what was tested).
fn git_dirty() -> Option<bool> {
    std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| !o.stdout.is_empty())
}

async fn certify(args: Args) -> anyhow::Result<ExitCode> {
    let image = args.image.clone().expect("clap requires --image");
    let statement = args.capabilities.as_deref().map(claimed_caps).transpose()?;
    let d = docker::connect().await?;
    let image_id = docker::image_id(&d, &image).await?.map(|(id, _)| id).ok_or_else(|| anyhow::anyhow!("image {image} does not exist locally (certify never pulls)"))?;
    let t0 = Instant::now();
    let (steps, claimed) = precheck(&image, statement.as_deref()).await?;
    let pre_ok = steps.iter().all(|s| s.pass);
    eprintln!("pre-check: {} ({:.1} s)", if pre_ok { "pass" } else { "FAIL" }, t0.elapsed().as_secs_f64());
    if args.precheck_only {
        return Ok(if pre_ok { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    // Selection follows the capability statement, or the node's own claims without one.
    let caps = statement.clone().unwrap_or_else(|| claimed.clone());
    let scope = run::select_scenarios(ekc_lab::scenario::load_dir(&args.scenario_dir)?, &args.scenarios, false)?;
    let scope: Vec<ekc_lab::scenario::Scenario> = scope.iter().map(|s| (**s).clone()).collect();
    let impls = certify_impls(&d, &image).await?;
    let plan = certification::plan(&scope, !args.scenarios.is_empty(), &caps, &impls, VENDOR);
    let evidence = Evidence { image: &image, image_id: &image_id, steps: &steps, claimed: &claimed, plan: &plan, caps: &caps };
    if !pre_ok {
        eprintln!("ekconform certify: the image does not meet the container contract; no scenario was run");
        let decision = certification::Decision { verdict: "not certified".into(), exit: 1, reasons: vec!["the pre-check failed (precheck.json)".into()], ..certification::decide(&plan, &caps, &[], VENDOR) };
        write_bundle(&args, &evidence, None, &decision)?;
        return Ok(ExitCode::from(1));
    }
    let run_dir = match &args.from_run {
        Some(dir) => Some(dir.clone()),
        None if plan.selected.is_empty() => None,
        None => Some(run_selected(&args, &d, impls, &plan).await?),
    };
    let cases: Vec<certification::CaseVerdict> = match &run_dir {
        Some(dir) => {
            if let Err(e) = ekc_report::render_run_dir(dir, &Default::default()) {
                eprintln!("warning: HTML report: {e}");
            }
            let results: Value = serde_json::from_slice(&std::fs::read(dir.join("results.json"))?)?;
            serde_json::from_value(results["cases"].clone()).map_err(|e| anyhow::anyhow!("{}: cases: {e}", dir.display()))?
        }
        None => Vec::new(),
    };
    let decision = certification::decide(&plan, &caps, &cases, VENDOR);
    eprintln!("ekconform certify: {}{}", decision.verdict, if decision.reasons.is_empty() { String::new() } else { format!(": {}", decision.reasons.join("; ")) });
    write_bundle(&args, &evidence, run_dir.as_deref(), &decision)?;
    Ok(ExitCode::from(decision.exit))
}

/// The vendor and the reference nodes whose images exist.
async fn certify_impls(d: &ekc_lab::docker::Docker, image: &str) -> anyhow::Result<Vec<Implementation>> {
    let mut impls = vec![Implementation { name: VENDOR.into(), image: image.to_string(), emulator: None, guest: false }];
    for r in ["rust", "go", "c"] {
        let img = format!("ekconform/node-{r}:dev");
        if docker::image_id(d, &img).await?.is_some() {
            impls.push(Implementation { name: r.into(), image: img, emulator: None, guest: false });
        } else {
            eprintln!("ekconform certify: reference image {img} missing: mixes with {r} are not run (run `ekconform images`)");
        }
    }
    Ok(impls)
}

/// Runs the selected scenarios in every mix with the vendor that fits each scenario.
async fn run_selected(args: &Args, d: &ekc_lab::docker::Docker, impls: Vec<Implementation>, plan: &certification::Plan) -> anyhow::Result<PathBuf> {
    let cfg = run::RunConfig {
        impls,
        scenarios: plan.selected.clone(),
        short: false,
        mixes: None,
        seed: args.seed,
        repeat: args.repeat,
        jobs: args.jobs,
        reports_dir: args.reports.clone(),
        scenario_dir: args.scenario_dir.clone(),
        helper_image: args.helper_image.clone(),
        capture_max_bytes: args.capture_max_mb << 20,
        suite_version: env!("CARGO_PKG_VERSION").to_string(),
        fault_backend: args.fault_backend.0,
        focus: Some(VENDOR.into()),
    };
    let run_id = run::new_run_id();
    let cancel = CancellationToken::new();
    run::install_signal_handlers(cancel.clone(), d.clone(), run_id.clone());
    let (dir, _) = run::run(d.clone(), cfg, run_id, cancel.clone()).await?;
    if cancel.is_cancelled() {
        return Err(Interrupted(format!("interrupted; the partial run is in {}", dir.display())).into());
    }
    Ok(dir)
}

/// What the bundle pins besides the run.
struct Evidence<'a> {
    image: &'a str,
    image_id: &'a str,
    steps: &'a [Step],
    claimed: &'a [String],
    plan: &'a certification::Plan,
    caps: &'a [String],
}

/// The bundle (also for a failed pre-check, with its evidence): pins, the plan (what ran, what
/// did not and why), the decision, the pre-check and the run directory when there is one.
fn write_bundle(args: &Args, ev: &Evidence, run_dir: Option<&Path>, decision: &certification::Decision) -> anyhow::Result<()> {
    let results: Value = run_dir.and_then(|d| std::fs::read(d.join("results.json")).ok()).and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
    let cases = results["cases"].as_array().cloned().unwrap_or_default();
    let precheck_path = std::env::temp_dir().join(format!("ekc-precheck-{}.json", std::process::id()));
    std::fs::write(&precheck_path, serde_json::to_vec_pretty(&json!({"image": ev.image, "steps": ev.steps, "caps": ev.claimed}))?)?;
    let pins = json!({
        "suite_version": env!("CARGO_PKG_VERSION"),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "image": {"name": ev.image, "id": ev.image_id},
        "run": results.get("run").cloned().unwrap_or(Value::Null),
        "seeds": cases.iter().map(|c| json!({"id": c["id"], "repeat": c["repeat"], "seed": c["seed"]})).collect::<Vec<_>>(),
        "vectors_sha256": tree_hash(Path::new("vectors")).ok(),
        "schemas_sha256": tree_hash(Path::new("vectors/schema")).ok(),
        "scenarios_sha256": tree_hash(&args.scenario_dir).ok(),
        "capability_statement_sha256": args.capabilities.as_deref().map(sha256_file).transpose().ok().flatten(),
        "claimed_caps": ev.claimed,
        "selection_caps": ev.caps,
        "precheck": ev.steps,
        "verdict": decision.verdict,
        "decision": decision,
        "plan": ev.plan,
        "vendor_cases": decision.ran.values().map(Vec::len).sum::<usize>(),
        "vendor_cases_failing": decision.ran.values().flatten().filter(|v| **v != ekc_lab::verdict::Verdict::Pass).count(),
    });
    let name = run_dir.and_then(|d| d.file_name()).and_then(|n| n.to_str()).map(str::to_string).unwrap_or_else(run::new_run_id);
    let out = args.out.clone().unwrap_or_else(|| args.reports.join(format!("certify-{name}")));
    let bundle = create_bundle(&out, &BundleInput { run_dir, capabilities: args.capabilities.as_deref(), pins, extra: vec![("precheck.json".into(), precheck_path.clone())] })?;
    let _ = std::fs::remove_file(&precheck_path);
    println!(
        "bundle {} ({} files, {} bytes; archive {} bytes): {}; {} of {} scenario instances judged ({:.0} %, minimum {:.0} %), {} not run (listed in bundle.json `plan.not_run`)",
        bundle.dir.display(),
        bundle.files,
        bundle.bytes,
        bundle.archive_bytes,
        decision.verdict,
        decision.judged_instances,
        decision.scope_instances,
        decision.judged_share * 100.0,
        decision.min_judged_share * 100.0,
        ev.plan.not_run.len()
    );
    Ok(())
}
