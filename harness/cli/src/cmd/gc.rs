//! `ekconform gc`: remove containers and networks left behind by crashed runs (everything
//! labelled `io.ekconform.managed=true` whose creating process is gone, or all with `--all`).
use ekc_lab::docker;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Also remove objects of runs that are still alive.
    #[arg(long)]
    pub all: bool,
    /// Only objects of this run id.
    #[arg(long)]
    pub run: Option<String>,
    /// Only objects created by this (dead) runner process id.
    #[arg(long)]
    pub pid: Option<u32>,
}

pub fn run(args: Args) -> ExitCode {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async move {
        let d = match docker::connect().await {
            Ok(d) => d,
            Err(e) => {
                eprintln!("ekconform gc: {e:#}");
                return ExitCode::from(super::EXIT_UNJUDGEABLE);
            }
        };
        let mut filters = vec![format!("{}=true", docker::LABEL_MANAGED)];
        if let Some(r) = &args.run {
            filters.push(format!("{}={r}", docker::LABEL_RUN));
        }
        if let Some(p) = args.pid {
            filters.push(format!("{}={p}", docker::LABEL_PID));
        }
        let all = args.all || args.run.is_some();
        match docker::sweep(&d, &filters, |labels| !all && docker::owner_alive(labels)).await {
            Ok(swept) => {
                let rules = match docker::gc_bridge_rules(&d).await {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("ekconform gc: stale firewall rules: {e:#}");
                        return ExitCode::from(1);
                    }
                };
                eprintln!("ekconform gc: removed {} container(s), {} network(s), {} volume(s), {rules} firewall rule(s)", swept.containers, swept.networks, swept.volumes);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ekconform gc: {e:#}");
                ExitCode::from(1)
            }
        }
    })
}
