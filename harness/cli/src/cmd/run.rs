//! `ekconform run`: run conformance scenarios on local Docker and write reports/<run-id>/.
//! Exit 0 when at least one case passed and every other case passed or was not applicable; 1 when
//! a case failed; 2 when a case was an error, when no case passed (all not applicable: nothing was
//! judged) or the run could not start; 130 when interrupted.
use ekc_lab::cluster::Implementation;
use ekc_lab::{docker, images, run};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

#[derive(clap::Args)]
pub struct Args {
    /// Implementations to test (reference nodes: rust, go, c and mcu, the emulated firmware node).
    /// Default: every reference node whose image exists, or all four with --require-all; there an
    /// emulated node is a guest of the matrix (its own cluster up to 3 nodes, and the cluster of all
    /// implementations), while naming it here puts it in every mix like any other.
    #[arg(long = "impls", value_delimiter = ',')]
    pub impls: Vec<String>,
    /// Add a vendor's image to the matrix: NAME=IMAGE (the image must exist locally).
    #[arg(long = "impl", value_name = "NAME=IMAGE")]
    pub extra: Vec<String>,
    /// Scenarios to run (default: the default catalogue).
    #[arg(long = "scenario", short = 's', value_delimiter = ',')]
    pub scenarios: Vec<String>,
    /// The short CI selection (scenarios marked `short`).
    #[arg(long)]
    pub short: bool,
    /// Only these cluster mixes (e.g. `rust`, `go+c`, `rust+go+c`).
    #[arg(long = "mix", value_delimiter = ',')]
    pub mixes: Vec<String>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run every case N times and report pass rates.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Cases run in parallel (each on its own network).
    #[arg(long, short = 'j', default_value_t = 3)]
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
    /// Fail (exit 2) when a reference node's image is missing instead of leaving it out.
    #[arg(long)]
    pub require_all: bool,
    /// List the selected cases and exit.
    #[arg(long)]
    pub list: bool,
    /// Emulator for implementations whose image runs emulated hardware (label
    /// io.ekconform.emulators; passed as EKC_EMULATOR). Default: each image's first.
    #[arg(long)]
    pub emulator: Option<String>,
    /// Backend for network faults: `auto` (netem where the kernel has sch_netem, else the NFQUEUE
    /// engine), `netem` or `nfqueue`. Forcing one the kernel lacks fails before any case runs.
    #[arg(long, default_value = "auto", value_parser = parse_backend)]
    pub fault_backend: ekc_lab::faults::BackendArg,
}

pub fn parse_backend(s: &str) -> Result<ekc_lab::faults::BackendArg, String> {
    s.parse()
}

const REFERENCE: [&str; 4] = ["rust", "go", "c", "mcu"];

fn valid_impl_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 12 && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) 
}

/// What `image` will be granted (CTL-IMG-2), refusing before any case runs an image that asks for
/// more than the lab grants or cannot run the requested emulator.
async fn profile_of(d: &ekc_lab::docker::Docker, image: &str, emulator: Option<&str>) -> anyhow::Result<ekc_lab::profile::NodeProfile> {
    let labels = docker::image_id(d, image).await?.map(|(_, l)| l).unwrap_or_default();
    let p = ekc_lab::profile::NodeProfile::from_labels(&labels).map_err(|e| anyhow::anyhow!("image {image}: {e}"))?;
    p.emulator_env(emulator).map_err(|e| anyhow::anyhow!("image {image}: {e}"))?;
    Ok(p)
}

pub fn run(args: Args) -> ExitCode {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async move {
        match run_inner(args).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("ekconform run: {e:#}");
                ExitCode::from(super::EXIT_UNJUDGEABLE)
            }
        }
    })
}

async fn run_inner(args: Args) -> anyhow::Result<ExitCode> {
    let d = docker::connect().await?;
    let mut impls = Vec::new();
    let wanted: Vec<String> = if args.impls.is_empty() && args.extra.is_empty() { REFERENCE.iter().map(|s| s.to_string()).collect() } else { args.impls.clone() };
    for name in &wanted {
        if !valid_impl_name(name) {
            anyhow::bail!("implementation name `{name}` must be 1-12 lowercase letters/digits");
        }
        let image = format!("ekconform/node-{name}:dev");
        if docker::image_id(&d, &image).await?.is_none() {
            if args.require_all || !args.impls.is_empty() {
                anyhow::bail!("image {image} for implementation {name} does not exist (run `ekconform images`)");
            }
            eprintln!("ekconform run: leaving out {name}: image {image} does not exist");
            continue;
        }
        let profile = profile_of(&d, &image, args.emulator.as_deref()).await?;
        let guest = args.impls.is_empty() && !profile.emulators.is_empty();
        impls.push(Implementation { name: name.clone(), image, emulator: args.emulator.clone(), guest });
    }
    for e in &args.extra {
        let (name, image) = e.split_once('=').ok_or_else(|| anyhow::anyhow!("--impl wants NAME=IMAGE, got {e}"))?;
        if !valid_impl_name(name) {
            anyhow::bail!("implementation name `{name}` must be 1-12 lowercase letters/digits");
        }
        if docker::image_id(&d, image).await?.is_none() {
            anyhow::bail!("image {image} of --impl {name} does not exist locally");
        }
        profile_of(&d, image, args.emulator.as_deref()).await?;
        impls.push(Implementation { name: name.into(), image: image.into(), emulator: args.emulator.clone(), guest: false });
    }
    if impls.is_empty() {
        anyhow::bail!("no implementation to test (no node image exists; run `ekconform images`)");
    }
    let cfg = run::RunConfig {
        impls,
        scenarios: args.scenarios.clone(),
        short: args.short,
        mixes: if args.mixes.is_empty() { None } else { Some(args.mixes.clone()) },
        seed: args.seed,
        repeat: args.repeat,
        jobs: args.jobs,
        reports_dir: args.reports.clone(),
        scenario_dir: args.scenario_dir.clone(),
        helper_image: args.helper_image.clone(),
        capture_max_bytes: args.capture_max_mb << 20,
        suite_version: env!("CARGO_PKG_VERSION").to_string(),
        fault_backend: args.fault_backend.0,
        focus: None,
    };
    if args.list {
        let scen = run::select_scenarios(ekc_lab::scenario::load_dir(&cfg.scenario_dir)?, &cfg.scenarios, cfg.short)?;
        for c in ekc_lab::matrix::expand(&scen, &cfg.impls, cfg.mixes.as_deref(), cfg.repeat, cfg.seed.unwrap_or(0)) {
            println!("{}", c.id);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let _ = images::LABEL_HASH;
    let run_id = run::new_run_id();
    let cancel = CancellationToken::new();
    run::install_signal_handlers(cancel.clone(), d.clone(), run_id.clone());
    let (dir, results) = run::run(d, cfg, run_id, cancel.clone()).await?;
    let s = ekc_lab::report::summarize(&results);
    eprintln!("ekconform run: {} cases: {} pass, {} fail, {} not applicable, {} error; report {}", s["cases"], s["pass"], s["fail"], s["not_applicable"], s["error"], dir.join("matrix.md").display());
    if cancel.is_cancelled() {
        return Ok(ExitCode::from(130));
    }
    let (code, why) = ekc_lab::verdict::run_exit_code(&results);
    eprintln!("ekconform run: exit {code}: {why}");
    Ok(ExitCode::from(code))
}
