//! A conformance run: expands the matrix into cases, runs them in parallel (each on its own
//! network), shows progress, and guarantees teardown on success, failure, panic and interruption
//! (the cancellation token is tripped by SIGINT/SIGTERM; a final sweep removes everything labelled
//! with the run id).
use crate::cluster::{self, Cluster, Implementation};
use crate::docker;
use crate::matrix::{self, Case};
use crate::report;
use crate::scenario::Scenario;
use crate::verdict::{CaseResult, Outcome, Verdict};
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
    pub suite_version: String,
    /// Backend for network faults (`auto` probes the kernel for sch_netem).
    pub fault_backend: ekc_faults::BackendChoice,
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
        eprintln!("ekconform: forced exit; sweeping run {run_id}");
        let _ = docker::sweep_run(&docker, &run_id).await;
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
    let cases = matrix::expand(&scenarios, &cfg.impls, cfg.mixes.as_deref(), cfg.repeat, seed);
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
    if let Err(e) = docker::gc_multicast_rules(&docker).await {
        eprintln!("warning: removing stale multicast exceptions: {e:#}");
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
    let mut phases = Vec::new();
    let mut nodes_info = Vec::new();
    let mut findings = Vec::new();
    let mut metrics = json!({});
    let outcome: Result<(), Outcome> = if ctx.cancel.is_cancelled() {
        Err(Outcome::error("interrupted before the case started"))
    } else if let Some((r, img)) = ctx.missing_images.iter().find(|(r, _)| case.mix.members.iter().any(|m| m.name == *r)) {
        Err(Outcome::error(format!("image {img} of implementation {r} is not built (run `ekconform images`)")))
    } else {
        let fut = run_case(&ctx, &case, &case_dir, &label, salt, &mut phases, &mut nodes_info, &mut findings, &mut metrics);
        match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
            Ok(r) => r,
            Err(p) => {
                let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
                Err(Outcome::error(format!("the harness panicked: {msg}")))
            }
        }
    };
    // Whatever happened above, nothing of this case survives it.
    if let Err(e) = cluster::remove_case(&ctx.docker, &ctx.run_id, &label).await {
        eprintln!("warning: cleaning up {}: {e:#}", case.id);
    }
    let (verdict, clause, reason) = match outcome {
        Ok(()) => (Verdict::Pass, None, String::new()),
        Err(o) => (o.verdict, o.clause, o.reason),
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
        clauses: case.scenario.clauses.clone(),
        findings,
        nodes: nodes_info,
        seconds: t0.elapsed().as_secs_f64(),
        phases,
        metrics,
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

#[allow(clippy::too_many_arguments)]
async fn run_case(
    ctx: &Ctx,
    case: &Case,
    dir: &Path,
    label: &str,
    salt: u64,
    phases: &mut Vec<(String, f64)>,
    nodes_info: &mut Vec<crate::verdict::NodeInfo>,
    findings: &mut Vec<crate::verdict::Finding>,
    metrics: &mut serde_json::Value,
) -> Result<(), Outcome> {
    tokio::fs::create_dir_all(dir).await.map_err(|e| Outcome::error(e.to_string()))?;
    let s = &case.scenario;
    let mut phase_t = Instant::now();
    let mut mark = |phases: &mut Vec<(String, f64)>, name: &str, next: Option<&str>| {
        phases.push((name.to_string(), phase_t.elapsed().as_secs_f64()));
        phase_t = Instant::now();
        if let Some(n) = next {
            ctx.progress.phase(&case.id, n);
        }
    };
    ctx.progress.phase(&case.id, "network + capture");
    let mut cl = Cluster::create(&ctx.docker, &ctx.run_id, label, dir, &ctx.helper_image, salt ^ case.seed).await?;
    let static_peers = s.discovery == crate::scenario::Discovery::Static;
    cl.plan_nodes(&case.composition(), static_peers, &s.env, case.seed);

    // Everything from here runs under the scenario timeout and the run's cancellation; teardown
    // runs whatever the outcome. The faults outlive the body: they are healed before the dump.
    let mut case_faults: Option<crate::faults::CaseFaults> = None;
    let body = async {
        if s.fake_peer {
            cl.start_fake_peer().await?;
        }
        mark(phases, "setup", Some("boot"));
        cl.boot().await?;
        for n in &cl.nodes {
            if let Some(missing) = s.requires.iter().find(|c| !n.caps.contains(c)) {
                return Err(Outcome::na(format!("{} does not claim capability `{missing}` (claims {:?})", n.name, n.caps)));
            }
        }
        mark(phases, "boot", Some("discover"));
        cl.await_discovery(Duration::from_secs(15)).await?;
        mark(phases, "discover", Some(if s.faults.is_empty() { "workload" } else { "fault helpers" }));
        if !s.faults.is_empty() {
            case_faults = Some(crate::faults::CaseFaults::start(&s.faults, &cl, ctx.fault_backend, case.seed).await?);
            mark(phases, "fault helpers", Some("workload"));
        }
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(case.seed);
        let mut w = Workload::new(&mut cl, rng);
        w.vectors_dir = Some(ctx.vectors_dir.clone());
        w.faults = case_faults.as_mut();
        let r = w.run(&s.steps).await;
        *metrics = json!({"workload": serde_json::to_value(&w.metrics).unwrap_or_default()});
        r?;
        mark(phases, "workload", Some("collect"));
        Ok::<(), Outcome>(())
    };
    let outcome = tokio::select! {
        r = tokio::time::timeout(Duration::from_secs(s.timeout_s), body) => match r {
            Ok(r) => r,
            Err(_) => Err(Outcome::fail("CTL-READY-1", format!("scenario timeout of {} s exceeded", s.timeout_s))),
        },
        _ = ctx.cancel.cancelled() => Err(Outcome::error("interrupted")),
    };
    if let Some(cf) = case_faults.as_mut() {
        cf.finish(&mut cl).await;
    }
    // Final state (even of a failed case: it is evidence), then teardown.
    let state_dir = if !ctx.cancel.is_cancelled() { cl.dump_state().await.ok() } else { None };
    mark(phases, "collect", Some("teardown"));
    let stop_times = cl.teardown().await;
    *nodes_info = cl.nodes.iter().map(|n| n.info()).collect();
    if let Some(m) = metrics.as_object_mut() {
        m.insert("nodes".into(), serde_json::to_value(&*nodes_info).unwrap_or_default());
        if let Ok(st) = &stop_times {
            m.insert("stop_ms".into(), json!(st.iter().map(|(n, d)| (n.clone(), d.as_millis() as u64)).collect::<std::collections::BTreeMap<_, _>>()));
        }
    }
    mark(phases, "teardown", Some("check"));
    // The capture is complete now (the capture container exited after the last node). The fault
    // record is evidence whatever the outcome, so it is written before a failed step returns.
    let mut pcap = dir.join("capture.pcap");
    let mut fault_error = None;
    if let Some(cf) = case_faults.as_ref().filter(|_| pcap.exists()) {
        let log = cf.log(&pcap, &cl);
        let _ = std::fs::write(dir.join("faults.json"), serde_json::to_vec_pretty(&log).unwrap_or_default());
        fault_error = log.measured.iter().find(|m| !m.applied).map(|m| format!("fault `{}` ({}) was not applied as configured: {}: {}", m.fault_id, m.kind, m.what, m.note));
        if let Some(m) = metrics.as_object_mut() {
            m.insert("faults".into(), crate::faults::report_windows(&log, log.first_packet_unix_ns));
            m.insert("fault_measurements".into(), serde_json::to_value(crate::faults::summary(&log)).unwrap_or_default());
        }
    }
    stop_times.map_err(|e| Outcome::error(format!("teardown: {e:#}")))?;
    outcome?;
    if !s.judge_fake_peer {
        let judged = dir.join("capture-judged.pcap");
        let fake_ip = cl.net.addr(cluster::FAKE_PEER_HOST);
        let dropped = crate::pcapfilter::without_source(&pcap, &judged, fake_ip).map_err(|e| Outcome::error(format!("filtering the capture: {e:#}")))?;
        if let Some(m) = metrics.as_object_mut() {
            m.insert("fake_peer_frames_not_judged".into(), json!(dropped));
        }
        pcap = judged;
    }
    let names = cl.node_names();
    let checks = s.checks.clone();
    let state = state_dir.clone();
    let known = crate::checks::CaseKnowledge {
        persistent_nodes: Some(
            cl.nodes
                .iter()
                .filter(|n| n.env.iter().any(|(k, v)| k == "EKC_STATE_DIR" && !v.is_empty()) && n.caps.iter().any(|c| c == "persist"))
                .filter(|n| !case_faults.as_ref().is_some_and(|cf| cf.wiped_state(&n.name)))
                .map(|n| n.name.clone())
                .collect(),
        ),
        fault_delay_ms: case_faults.as_ref().map(|cf| cf.max_added_delay_ms()).unwrap_or(0),
        known_restarts: cl.nodes.iter().flat_map(|n| n.restarted_at.iter().map(move |t| (n.ip, *t))).collect(),
        lossless: case_faults.is_none(),
    };
    let judged = tokio::task::spawn_blocking(move || crate::checks::judge(&pcap, state.as_deref(), &checks, names, &known))
        .await
        .map_err(|e| Outcome::error(format!("checkers crashed: {e}")))?;
    mark(phases, "check", None);
    let j = judged.map_err(|e| Outcome::error(format!("the capture could not be judged: {e}")))?;
    let _ = std::fs::write(dir.join("check.txt"), &j.text);
    let _ = std::fs::write(dir.join("check.json"), &j.json);
    if let Some(m) = metrics.as_object_mut() {
        m.insert("capture".into(), j.metrics.clone());
    }
    let _ = std::fs::write(dir.join("metrics.json"), serde_json::to_vec_pretty(metrics).unwrap_or_default());
    *findings = j.findings.clone();
    let fault_failed_to_apply = fault_error.clone();
    if j.pass {
        if let Some(e) = fault_failed_to_apply {
            return Err(Outcome::error(e));
        }
    }
    if !j.pass {
        let first = j.findings.first();
        return Err(Outcome {
            verdict: Verdict::Fail,
            clause: first.map(|f| f.clause.clone()),
            reason: format!(
                "checkers: {} violation(s); first: [{}] {} (frames {:?})",
                j.findings.len(),
                first.map(|f| f.clause.as_str()).unwrap_or("?"),
                first.map(|f| f.explanation.as_str()).unwrap_or(""),
                first.map(|f| f.frames.iter().take(5).collect::<Vec<_>>()).unwrap_or_default()
            ),
        });
    }
    Ok(())
}
