//! A conformance run: expands the matrix into cases, runs them in parallel (each on its own
//! network), shows progress, and guarantees teardown on success, failure, panic and interruption
//! (the cancellation token is tripped by SIGINT/SIGTERM; a final sweep removes everything labelled
//! with the run id).
use crate::cluster::{self, Cluster, Implementation};
use crate::docker;
use crate::matrix::{self, Case};
use crate::report;
use crate::scenario::Scenario;
use crate::verdict::{decide, CaptureJudgement, CaseResult, Evidence, Outcome, Verdict};
use crate::workload::Workload;
use anyhow::{bail, Result};
use bollard::Docker;
use futures_util::FutureExt;
use rand::SeedableRng;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub struct RunConfig {
    pub impls: Vec<Implementation>,
    /// Scenario names to run; empty = the default set (or the short set with `short`).
    pub scenarios: Vec<String>,
    pub short: bool,
    pub mixes: Option<Vec<String>>,
    pub seed: Option<u64>,
    pub repeat: u32,
    pub jobs: usize,
    pub reports_dir: PathBuf,
    pub scenario_dir: PathBuf,
    pub helper_image: String,
    /// Size cap of each case's capture file (capture::DEFAULT_MAX_BYTES).
    pub capture_max_bytes: u64,
    pub suite_version: String,
    /// Backend for network faults (`auto` probes the kernel for sch_netem).
    pub fault_backend: ekc_faults::BackendChoice,
    /// Certification: run every scenario in the mixes that contain this implementation
    /// ([`matrix::focus_mixes`]) instead of the matrix (`mixes` is then ignored).
    pub focus: Option<String>,
}

pub struct Progress {
    start: Instant,
    total: usize,
    done: AtomicUsize,
}

impl Progress {
    fn phase(&self, case: &str, phase: &str) {
        eprintln!("[{:>7.1}s] [{}/{}] {case}: {phase}", self.start.elapsed().as_secs_f64(), self.done.load(Ordering::Relaxed), self.total);
    }
    fn finished(&self, r: &CaseResult) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        eprintln!(
            "[{:>7.1}s] [{n}/{}] {}: {} ({:.1}s){}",
            self.start.elapsed().as_secs_f64(),
            self.total,
            r.id,
            r.verdict.as_str().to_uppercase(),
            r.seconds,
            if r.verdict == Verdict::Pass { String::new() } else { format!(" — {}", crate::workload::truncate(&r.reason, 300)) }
        );
    }
}

struct Ctx {
    docker: Docker,
    run_id: String,
    run_dir: PathBuf,
    helper_image: String,
    capture_max_bytes: u64,
    cancel: CancellationToken,
    progress: Progress,
    missing_images: Vec<(String, String)>,
    vectors_dir: PathBuf,
    fault_backend: ekc_faults::BackendChoice,
}

/// Trip `cancel` on SIGINT or SIGTERM (the runner then tears everything down and reports the
/// interrupted cases as errors). A second signal exits at once after a best-effort sweep.
pub fn install_signal_handlers(cancel: CancellationToken, docker: Docker, run_id: String) {
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else { return };
        tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        eprintln!("ekconform: interrupted; tearing down (signal again to force)");
        cancel.cancel();
        tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        eprintln!("ekconform: forced exit; sweeping run {run_id} (further signals are ignored until it is done)");
        let _ = docker::sweep_run(&docker, &run_id).await;
        // The networks are gone now: their bridges' firewall rules go with them.
        let _ = docker::gc_bridge_rules(&docker).await;
        std::process::exit(130);
    });
}

pub fn new_run_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!("[year][month][day]-[hour][minute][second]");
    format!("{}-{:04x}", now.format(&fmt).unwrap_or_default(), rand::random::<u16>())
}

pub fn select_scenarios(all: Vec<Scenario>, names: &[String], short: bool) -> Result<Vec<Arc<Scenario>>> {
    if !names.is_empty() {
        let mut out = Vec::new();
        for n in names {
            match all.iter().find(|s| s.name == *n) {
                Some(s) => out.push(Arc::new(s.clone())),
                None => bail!("unknown scenario {n} (known: {})", all.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")),
            }
        }
        return Ok(out);
    }
    Ok(all.into_iter().filter(|s| if short { s.short } else { s.default }).map(Arc::new).collect())
}

/// Run the matrix; returns the run directory and the results.
pub async fn run(docker: Docker, cfg: RunConfig, run_id: String, cancel: CancellationToken) -> Result<(PathBuf, Vec<CaseResult>)> {
    let scenarios = select_scenarios(crate::scenario::load_dir(&cfg.scenario_dir)?, &cfg.scenarios, cfg.short)?;
    let seed = cfg.seed.unwrap_or_else(rand::random);
    let cases = match &cfg.focus {
        Some(f) => matrix::expand_focused(&scenarios, &cfg.impls, f, cfg.repeat, seed),
        None => matrix::expand(&scenarios, &cfg.impls, cfg.mixes.as_deref(), cfg.repeat, seed),
    };
    if cases.is_empty() {
        bail!("the selection gives no test cases");
    }
    let run_dir = cfg.reports_dir.join(&run_id);
    tokio::fs::create_dir_all(&run_dir).await?;
    let started = time::OffsetDateTime::now_utc();

    let mut images = serde_json::Map::new();
    let mut missing = Vec::new();
    for (role, name) in cfg.impls.iter().map(|i| (i.name.clone(), i.image.clone())).chain(std::iter::once(("helper".to_string(), cfg.helper_image.clone()))) {
        match docker::image_id(&docker, &name).await? {
            Some((id, labels)) => {
                images.insert(role, json!({"image": name, "id": id, "content_hash": labels.get(crate::images::LABEL_HASH)}));
            }
            None => {
                images.insert(role.clone(), json!({"image": name, "id": null}));
                missing.push((role, name));
            }
        }
    }
    if docker::image_id(&docker, docker::NETADMIN_IMAGE).await?.is_none() {
        bail!("the iptables sidecar image {} is missing: run `ekconform images` first", docker::NETADMIN_IMAGE);
    }
    if missing.iter().any(|(r, _)| r == "helper") {
        bail!("the helper image {} is missing: run `ekconform images` first", cfg.helper_image);
    }
    // Network faults need the fault helper, and a forced backend must exist on this kernel: find
    // out once, before any case starts, and say why not.
    let fault_backend = if scenarios.iter().any(|s| s.needs_fault_helper()) {
        if docker::image_id(&docker, crate::faults::FAULTS_IMAGE).await?.is_none() {
            bail!("the fault helper image {} is missing: run `ekconform images` first", crate::faults::FAULTS_IMAGE);
        }
        let choice = cfg.fault_backend;
        Some(tokio::task::spawn_blocking(move || crate::faults::preflight(choice)).await??)
    } else {
        None
    };
    eprintln!(
        "ekconform run {run_id}: {} cases, seed {seed}, jobs {}{}",
        cases.len(),
        cfg.jobs,
        fault_backend.as_ref().map(|b| format!(", fault backend {b}")).unwrap_or_default()
    );
    let ctx = Arc::new(Ctx {
        docker: docker.clone(),
        run_id: run_id.clone(),
        run_dir: run_dir.clone(),
        helper_image: cfg.helper_image.clone(),
        capture_max_bytes: cfg.capture_max_bytes,
        cancel: cancel.clone(),
        progress: Progress { start: Instant::now(), total: cases.len(), done: AtomicUsize::new(0) },
        missing_images: missing,
        vectors_dir: cfg.scenario_dir.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("vectors")),
        fault_backend: cfg.fault_backend,
    });
    let sem = Arc::new(tokio::sync::Semaphore::new(cfg.jobs.max(1)));
    let mut handles = Vec::new();
    for (k, case) in cases.into_iter().enumerate() {
        let ctx = ctx.clone();
        let sem = sem.clone();
        handles.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await;
            run_case_guarded(ctx, case, k as u64).await
        }));
    }
    let mut results = Vec::new();
    for h in handles {
        match h.await {
            Ok(r) => results.push(r),
            Err(e) => eprintln!("ekconform: a case task failed: {e}"),
        }
    }
    // Safety net: whatever a case could not remove (or an interrupted case left) goes now.
    if let Err(e) = docker::sweep_run(&docker, &run_id).await {
        eprintln!("warning: final sweep of run {run_id}: {e:#}");
    }
    if let Err(e) = docker::gc_bridge_rules(&docker).await {
        eprintln!("warning: removing stale firewall rules of test bridges: {e:#}");
    }
    let meta = json!({
        "run_id": run_id,
        "suite_version": cfg.suite_version,
        "seed": seed,
        "repeat": cfg.repeat,
        "jobs": cfg.jobs,
        "started": started.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "finished": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "wall_seconds": ctx.progress.start.elapsed().as_secs_f64(),
        "interrupted": cancel.is_cancelled(),
        "fault_backend": fault_backend,
        "images": images,
        "implementations": cfg.impls.iter().map(|i| json!({"name": i.name, "image": i.image})).collect::<Vec<_>>(),
    });
    report::write_run(&run_dir, &cfg.reports_dir, &meta, &results)?;
    Ok((run_dir, results))
}

async fn run_case_guarded(ctx: Arc<Ctx>, case: Case, salt: u64) -> CaseResult {
    let case_dir_rel = case_dir_name(&case);
    let case_dir = ctx.run_dir.join(&case_dir_rel);
    let label = format!("{}#{}", case.id, case.repeat);
    let t0 = Instant::now();
    let not_run = |why: String| (CaseRecord::default(), Evidence { capture: CaptureJudgement::NotJudged("the case did not start: no capture".into()), step: Some(Outcome::error(why)), not_tested: None });
    let (record, evidence) = if ctx.cancel.is_cancelled() {
        not_run("interrupted before the case started".into())
    } else if let Some((r, img)) = ctx.missing_images.iter().find(|(r, _)| case.mix.members.iter().any(|m| m.name == *r)) {
        not_run(format!("image {img} of implementation {r} is not built (run `ekconform images`)"))
    } else {
        match std::panic::AssertUnwindSafe(run_case(&ctx, &case, &case_dir, &label, salt)).catch_unwind().await {
            Ok(r) => r,
            Err(p) => {
                let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
                let (rec, mut ev) = not_run(format!("the harness panicked: {msg}"));
                ev.capture = CaptureJudgement::NotJudged("the harness panicked".into());
                (rec, ev)
            }
        }
    };
    // Whatever happened above, nothing of this case survives it.
    if let Err(e) = cluster::remove_case(&ctx.docker, &ctx.run_id, &label).await {
        eprintln!("warning: cleaning up {}: {e:#}", case.id);
    }
    let (verdict, clause, reason) = decide(&evidence);
    let (capture_judged, findings) = match evidence.capture {
        CaptureJudgement::Judged(f) => (true, f),
        CaptureJudgement::NotJudged(_) => (false, Vec::new()),
    };
    let result = CaseResult {
        id: case.id.clone(),
        scenario: case.scenario.name.clone(),
        mix: case.mix.name.clone(),
        size: case.size,
        repeat: case.repeat,
        seed: case.seed,
        verdict,
        clause,
        reason,
        step_failure: evidence.step,
        capture_judged,
        clauses: case.scenario.clauses.clone(),
        findings,
        nodes: record.nodes,
        seconds: t0.elapsed().as_secs_f64(),
        phases: record.phases.list,
        metrics: record.metrics,
        dir: case_dir_rel,
    };
    let _ = std::fs::create_dir_all(&case_dir);
    let _ = std::fs::write(case_dir.join("result.json"), serde_json::to_vec_pretty(&result).unwrap_or_default());
    ctx.progress.finished(&result);
    result
}

fn case_dir_name(case: &Case) -> String {
    let safe = case.id.replace(['/', '@', '+'], "_");
    if case.repeat > 0 {
        format!("cases/{safe}.r{}", case.repeat)
    } else {
        format!("cases/{safe}")
    }
}

/// Wall time per phase of a case, in order, announced on the progress line as each begins.
struct Phases {
    t: Instant,
    list: Vec<(String, f64)>,
}

impl Default for Phases {
    fn default() -> Self {
        Phases { t: Instant::now(), list: Vec::new() }
    }
}

impl Phases {
    fn mark(&mut self, ctx: &Ctx, case: &Case, name: &str, next: Option<&str>) {
        self.list.push((name.to_string(), self.t.elapsed().as_secs_f64()));
        self.t = Instant::now();
        if let Some(n) = next {
            ctx.progress.phase(&case.id, n);
        }
    }
}

/// What a case recorded besides its verdict: phase times, the nodes, metrics.
struct CaseRecord {
    phases: Phases,
    nodes: Vec<crate::verdict::NodeInfo>,
    metrics: serde_json::Value,
}

impl Default for CaseRecord {
    fn default() -> Self {
        CaseRecord { phases: Phases::default(), nodes: Vec::new(), metrics: json!({}) }
    }
}

impl CaseRecord {
    fn metric(&mut self, key: &str, value: serde_json::Value) {
        if let Some(m) = self.metrics.as_object_mut() {
            m.insert(key.into(), value);
        }
    }
}

/// One case, phase by phase: set up the network and capture, drive the nodes (boot, discovery,
/// faults, workload) under the scenario timeout, let the state settle for the end-of-run checks,
/// collect state and tear down, then judge the capture whatever the steps did.
async fn run_case(ctx: &Ctx, case: &Case, dir: &Path, label: &str, salt: u64) -> (CaseRecord, Evidence) {
    let mut rec = CaseRecord::default();
    ctx.progress.phase(&case.id, "network + capture");
    let mut cl = match setup(ctx, case, dir, label, salt).await {
        Ok(cl) => cl,
        Err(o) => return (rec, Evidence { capture: CaptureJudgement::NotJudged("the network or the capture could not be set up".into()), step: Some(o), not_tested: None }),
    };
    let mut case_faults: Option<crate::faults::CaseFaults> = None;
    let step = drive(ctx, case, &mut cl, &mut case_faults, &mut rec).await.err();
    // The faults outlive the body: they are healed before the state settles and is dumped.
    if let Some(cf) = case_faults.as_mut() {
        cf.finish(&mut cl).await;
    }
    // A not-applicable case never ran its workload: its end state is not judged (its capture is).
    let judge_state = !ctx.cancel.is_cancelled() && !step.as_ref().is_some_and(|o| o.verdict == Verdict::NotApplicable);
    let (state_dir, collect_error) = if judge_state { collect(case, &mut cl, &mut rec).await } else { (None, None) };
    rec.phases.mark(ctx, case, "collect", Some("teardown"));
    let complete = match tokio::time::timeout(TEARDOWN_BUDGET, teardown(&mut cl, &mut rec)).await {
        Ok(r) => r,
        Err(_) => {
            // Whatever did not stop in time is removed by force; the capture may be cut short.
            let _ = cl.remove_all().await;
            Err(format!("the teardown phase exceeded its {} s budget", TEARDOWN_BUDGET.as_secs()))
        }
    };
    rec.phases.mark(ctx, case, "teardown", Some("check"));
    let pcap = dir.join("capture.pcap");
    let fault_not_applied = case_faults.as_ref().filter(|_| pcap.exists()).and_then(|cf| record_faults(cf, dir, &pcap, &cl, &mut rec));
    // A teardown step that failed after the capture container exited leaves a complete capture:
    // it is judged, and the failure is an error beside it.
    let (capture, teardown_error) = match complete {
        Ok(()) => (judge_capture(case, dir, &cl, case_faults.as_ref(), state_dir, &mut rec).await, None),
        Err(why) if cl.capture_complete => (judge_capture(case, dir, &cl, case_faults.as_ref(), state_dir, &mut rec).await, Some(why)),
        Err(why) => (CaptureJudgement::NotJudged(why), None),
    };
    let race_missed = match &capture {
        CaptureJudgement::Judged(_) => races_missed(case, &pcap, &mut rec).await,
        CaptureJudgement::NotJudged(_) => None,
    };
    rec.phases.mark(ctx, case, "check", None);
    let _ = std::fs::write(dir.join("metrics.json"), serde_json::to_vec_pretty(&rec.metrics).unwrap_or_default());
    (rec, Evidence { capture, step, not_tested: fault_not_applied.or(race_missed).or(teardown_error).or(collect_error) })
}

/// The case's network, capture and node plan.
async fn setup(ctx: &Ctx, case: &Case, dir: &Path, label: &str, salt: u64) -> Result<Cluster, Outcome> {
    tokio::fs::create_dir_all(dir).await.map_err(|e| Outcome::error(e.to_string()))?;
    let s = &case.scenario;
    let mut cl = Cluster::create(&ctx.docker, &ctx.run_id, label, dir, &ctx.helper_image, ctx.capture_max_bytes, salt ^ case.seed).await?;
    let static_peers = s.discovery == crate::scenario::Discovery::Static;
    cl.plan_nodes(&case.composition(), static_peers, &s.env, case.seed);
    Ok(cl)
}

/// Boot, capability check, discovery, fault helpers and the workload, under the scenario timeout
/// and the run's cancellation. The first step that does not hold ends it.
async fn drive(ctx: &Ctx, case: &Case, cl: &mut Cluster, case_faults: &mut Option<crate::faults::CaseFaults>, rec: &mut CaseRecord) -> Result<(), Outcome> {
    let s = &case.scenario;
    let body = async {
        if s.fake_peer {
            cl.start_fake_peer().await?;
        }
        rec.phases.mark(ctx, case, "setup", Some("boot"));
        cl.boot().await?;
        for n in &cl.nodes {
            if let Some(missing) = s.requires.iter().find(|c| !n.caps.contains(c)) {
                return Err(Outcome::na(format!("{} does not claim capability `{missing}` (claims {:?})", n.name, n.caps)));
            }
        }
        rec.phases.mark(ctx, case, "boot", Some("discover"));
        cl.await_discovery(Duration::from_secs(15)).await?;
        rec.phases.mark(ctx, case, "discover", Some(if s.faults.is_empty() { "workload" } else { "fault helpers" }));
        if !s.faults.is_empty() {
            *case_faults = Some(crate::faults::CaseFaults::start(&s.faults, cl, ctx.fault_backend, case.seed).await?);
            rec.phases.mark(ctx, case, "fault helpers", Some("workload"));
        }
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(case.seed);
        let mut w = Workload::new(cl, rng);
        w.vectors_dir = Some(ctx.vectors_dir.clone());
        w.faults = case_faults.as_mut();
        let r = w.run(&s.steps).await;
        rec.metric("workload", serde_json::to_value(&w.metrics).unwrap_or_default());
        r?;
        rec.phases.mark(ctx, case, "workload", Some("collect"));
        Ok::<(), Outcome>(())
    };
    tokio::select! {
        r = tokio::time::timeout(Duration::from_secs(s.timeout_s), body) => match r {
            Ok(r) => r,
            Err(_) => Err(Outcome::fail("CTL-READY-1", format!("scenario timeout of {} s exceeded", s.timeout_s))),
        },
        _ = ctx.cancel.cancelled() => Err(Outcome::error("interrupted")),
    }
}

/// Longest the end-of-run settle waits for what the end-of-run checks demand.
pub const SETTLE_WITHIN_MS: u64 = 20_000;

/// Deadlines of the phases after the scenario's own `timeout_s` (which bounds boot, discovery
/// and the workload): a node that hangs in them makes its case an error naming the phase.
const COLLECT_BUDGET: Duration = Duration::from_secs(SETTLE_WITHIN_MS / 1000 + 40);
const TEARDOWN_BUDGET: Duration = Duration::from_secs(60);
const CHECK_BUDGET: Duration = Duration::from_secs(300);

/// The collect phase: the bounded wait for convergence, then the state dumps, within
/// [`COLLECT_BUDGET`]. Returns the dumps' directory and, past the budget, why there is none.
async fn collect(case: &Case, cl: &mut Cluster, rec: &mut CaseRecord) -> (Option<PathBuf>, Option<String>) {
    let phase = async {
        settle(case, cl, rec).await;
        cl.dump_state().await.ok()
    };
    match tokio::time::timeout(COLLECT_BUDGET, phase).await {
        Ok(dir) => (dir, None),
        Err(_) => (None, Some(format!("the collect phase (convergence wait and state dumps) exceeded its {} s budget", COLLECT_BUDGET.as_secs()))),
    }
}

/// Before the state is dumped for the convergence check (equal stores, version vectors, event
/// logs and registers: ROJ-SAFE-2, KOR-AE-2, KOR-LWW-3), wait, bounded, until the running nodes
/// agree on all of it, so that the check judges a state the case waited for and not a race with
/// anti-entropy. Not converging within the bound is no verdict here: the check judges the dumps.
async fn settle(case: &Case, cl: &mut Cluster, rec: &mut CaseRecord) {
    let s = &case.scenario;
    if !s.judges_convergence() || !cl.nodes.iter().any(|n| n.running) {
        return;
    }
    let t0 = Instant::now();
    let mut w = Workload::new(cl, rand_chacha::ChaCha8Rng::seed_from_u64(case.seed));
    let r = w.run(&[crate::scenario::Step::AwaitConverged { within_ms: SETTLE_WITHIN_MS, kv_only: false }]).await;
    let ms = t0.elapsed().as_millis() as u64;
    rec.metric("settle", json!({"converged": r.is_ok(), "ms": ms, "note": r.err().map(|o| crate::workload::truncate(&o.reason, 600))}));
}

/// Stops every node and then the capture. `Ok` means the capture is complete (its container
/// exited after the last node); otherwise why it may not be.
async fn teardown(cl: &mut Cluster, rec: &mut CaseRecord) -> Result<(), String> {
    let stop_times = cl.teardown().await;
    rec.nodes = cl.nodes.iter().map(|n| n.info()).collect();
    let nodes = serde_json::to_value(&rec.nodes).unwrap_or_default();
    rec.metric("nodes", nodes);
    match stop_times {
        Ok(st) => {
            rec.metric("stop_ms", json!(st.iter().map(|(n, d)| (n.clone(), d.as_millis() as u64)).collect::<std::collections::BTreeMap<_, _>>()));
            Ok(())
        }
        Err(e) => Err(format!("teardown failed ({e:#})")),
    }
}

/// Writes `faults.json` (evidence whatever the outcome) and returns the first fault that was
/// not applied as configured.
fn record_faults(cf: &crate::faults::CaseFaults, dir: &Path, pcap: &Path, cl: &Cluster, rec: &mut CaseRecord) -> Option<String> {
    let log = cf.log(pcap, cl);
    let _ = std::fs::write(dir.join("faults.json"), serde_json::to_vec_pretty(&log).unwrap_or_default());
    rec.metric("faults", crate::faults::report_windows(&log, log.first_packet_unix_ns));
    rec.metric("fault_measurements", serde_json::to_value(crate::faults::summary(&log)).unwrap_or_default());
    log.measured.iter().find(|m| !m.applied).map(|m| format!("fault `{}` ({}) was not applied as configured: {}: {}", m.fault_id, m.kind, m.what, m.note))
}

/// Hands the complete capture (without the fake peer's frames where the scenario says so) and
/// the state dumps to the checkers.
async fn judge_capture(case: &Case, dir: &Path, cl: &Cluster, case_faults: Option<&crate::faults::CaseFaults>, state_dir: Option<PathBuf>, rec: &mut CaseRecord) -> CaptureJudgement {
    let s = &case.scenario;
    let mut pcap = dir.join("capture.pcap");
    if !pcap.exists() {
        return CaptureJudgement::NotJudged("the capture file is missing".into());
    }
    if !s.judge_fake_peer {
        let judged = dir.join("capture-judged.pcap");
        let fake_ip = cl.net.addr(cluster::FAKE_PEER_HOST);
        match crate::pcapfilter::without_host(&pcap, &judged, fake_ip) {
            Ok(dropped) => rec.metric("fake_peer_frames_not_judged", json!(dropped)),
            Err(e) => return CaptureJudgement::NotJudged(format!("filtering the capture: {e:#}")),
        }
        pcap = judged;
    }
    // A capture that lost frames cannot prove an absence (a VOTE never sent, an ANNOUNCE
    // skipped): it is judged for the record (check.txt) but never passed, and what it lost is the
    // first reason given.
    let capture_log = std::fs::read_to_string(dir.join("logs").join("capture.log")).unwrap_or_default();
    let stats = crate::capture::CaptureStats::from_log(&capture_log);
    rec.metric("capture_integrity", json!(stats));
    let integrity = crate::capture::check_complete(stats, cl.capture_max_bytes);
    let names = cl.node_names();
    let checks = s.checks.clone();
    let known = case_knowledge(cl, case_faults);
    let judged = tokio::time::timeout(CHECK_BUDGET, tokio::task::spawn_blocking(move || crate::checks::judge(&pcap, state_dir.as_deref(), &checks, names, &known))).await;
    let not_judged = |why: String| CaptureJudgement::NotJudged(integrity.clone().err().unwrap_or(why));
    let j = match judged {
        Err(_) => return not_judged(format!("the check phase exceeded its {} s budget", CHECK_BUDGET.as_secs())),
        Ok(Err(e)) => return not_judged(format!("the checkers crashed: {e}")),
        Ok(Ok(Err(e))) => return not_judged(format!("the capture could not be judged: {e}")),
        Ok(Ok(Ok(j))) => j,
    };
    let _ = std::fs::write(dir.join("check.txt"), &j.text);
    let _ = std::fs::write(dir.join("check.json"), &j.json);
    rec.metric("capture", j.metrics.clone());
    // Findings from a capture that was not read whole can be artefacts of what is missing (a cut
    // ANNOUNCE hides a restart): such a capture is not judged, and says why (check.txt keeps them).
    if !j.shortfalls.is_empty() {
        return not_judged(format!("capture not judged whole: {}", j.shortfalls.join("; ")));
    }
    if !j.pass && j.findings.is_empty() {
        return not_judged("the checkers did not pass the capture but named no violation".into());
    }
    if let Err(why) = integrity {
        return CaptureJudgement::NotJudged(why);
    }
    let mut findings = j.findings;
    // CTL-LOG-1: no capture shows a node's log; its saved stdout does.
    for n in &cl.nodes {
        if let Some(text) = crate::checks::read_log_head(&dir.join("logs").join(format!("{}.log", n.name))) {
            findings.extend(crate::checks::judge_log(&n.name, &text));
        }
    }
    CaptureJudgement::Judged(findings)
}

/// For every `race` step, whether the capture shows the raced proposals' windows overlapping
/// (`race.rs`); the first race that did not happen, if any. The windows go to the metrics.
async fn races_missed(case: &Case, pcap: &Path, rec: &mut CaseRecord) -> Option<String> {
    let keys: Vec<String> = case.scenario.steps.iter().filter_map(|s| if let crate::scenario::Step::Race { key, .. } = s { Some(key.clone()) } else { None }).collect();
    if keys.is_empty() {
        return None;
    }
    let pcap = pcap.to_path_buf();
    let read = tokio::task::spawn_blocking(move || keys.into_iter().map(|k| (crate::race::windows(&pcap, &k), k)).collect::<Vec<_>>()).await;
    let Ok(read) = read else { return Some("reading the race windows from the capture crashed".into()) };
    let mut missed = None;
    let mut shown = serde_json::Map::new();
    for (ws, key) in read {
        let why = match &ws {
            Ok(ws) => crate::race::missed(ws, &key),
            Err(e) => Some(format!("the race on `{key}` could not be read from the capture: {e}")),
        };
        shown.insert(key.clone(), json!({"overlapped": why.is_none(), "windows": ws.map(|ws| ws.iter().map(|w| json!({"proposer": w.proposer, "pid": w.pid, "start_ns": w.start_ns, "end_ns": w.end_ns})).collect::<Vec<_>>()).unwrap_or_default()}));
        missed = missed.or(why);
    }
    rec.metric("races", serde_json::Value::Object(shown));
    missed
}

/// What the checkers must know beyond the capture: which nodes persist, the largest delay a
/// fault added, when the lab restarted a node, the announce period and how each node discovers.
fn case_knowledge(cl: &Cluster, case_faults: Option<&crate::faults::CaseFaults>) -> crate::checks::CaseKnowledge {
    crate::checks::CaseKnowledge {
        persistent_nodes: Some(
            cl.nodes
                .iter()
                .filter(|n| n.env.iter().any(|(k, v)| k == "EKC_STATE_DIR" && !v.is_empty()) && n.caps.iter().any(|c| c == "persist"))
                .filter(|n| !case_faults.is_some_and(|cf| cf.wiped_state(&n.name)))
                .map(|n| n.name.clone())
                .collect(),
        ),
        fault_delay_ms: case_faults.map(|cf| cf.max_added_delay_ms()).unwrap_or(0),
        known_restarts: cl.nodes.iter().flat_map(|n| n.restarted_at.iter().map(move |t| (n.ip, *t))).collect(),
        lossless: case_faults.is_none(),
        announce_period_ms: crate::checks::announce_period_ms(cl.nodes.iter().map(|n| n.env.as_slice())),
        nodes: cl.nodes.iter().map(|n| crate::checks::NodeConfig::from_env(n.ip, &n.env)).collect(),
    }
}
