//! `ekconform images`: build (or reuse, by content hash) every image the suite needs, offline.
use ekc_lab::images;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Only these images (image name, implementation name, or role `node`/`helper`).
    #[arg(long = "only", value_name = "NAME")]
    pub only: Vec<String>,
    /// Rebuild even when the content hash matches.
    #[arg(long)]
    pub force: bool,
    /// Exit non-zero when an image could not be built or has no build recipe yet.
    #[arg(long)]
    pub strict: bool,
}

pub fn run(args: Args) -> ExitCode {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async move {
        let root = match images::repo_root() {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let docker = match ekc_lab::docker::connect().await {
            Ok(d) => d,
            Err(e) => return fail(e),
        };
        match images::ensure_images(&docker, &root, &args.only, args.force).await {
            Ok(outcomes) => {
                let mut bad = false;
                for o in &outcomes {
                    eprintln!("{:<28} {:<8} {:>6.2}s  {}  {}", o.name, o.status, o.seconds, &o.content_hash[..12], o.detail.lines().next().unwrap_or(""));
                    if o.status == "failed" {
                        for l in o.detail.lines().skip(1) {
                            eprintln!("    {l}");
                        }
                    }
                    bad |= o.status == "failed" || (args.strict && o.status == "missing");
                }
                if bad {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => fail(e),
        }
    })
}

fn fail(e: anyhow::Error) -> ExitCode {
    eprintln!("ekconform images: {e:#}");
    ExitCode::from(super::EXIT_UNJUDGEABLE)
}
