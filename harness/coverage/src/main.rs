//! `spec-coverage [--check]`: writes docs/spec/coverage.md and the README's coverage counts, or
//! with `--check` only compares and lists every problem (exit 1).

use anyhow::{bail, Context, Result};
use ekc_coverage::{evidence, spec, table};
use std::path::{Path, PathBuf};

const BEGIN: &str = "<!-- spec-coverage:begin -->\n";
const END: &str = "<!-- spec-coverage:end -->";

fn main() {
    let check = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => {
            eprintln!("usage: spec-coverage [--check] (unknown argument {other:?})");
            std::process::exit(2);
        }
    };
    match run(check) {
        Ok(problems) if problems.is_empty() => {}
        Ok(problems) => {
            for p in &problems {
                eprintln!("spec-coverage: {p}");
            }
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("spec-coverage: {e:#}");
            std::process::exit(2);
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(check: bool) -> Result<Vec<String>> {
    let root = root();
    let clauses = spec::read(&root)?;
    let found = evidence::discover(&root)?;
    let ex = table::Exceptions::read(&root.join("docs/spec/not-judged.toml"))?;
    let cov = table::classify(&clauses, &found, &ex);
    let mut problems = cov.problems.clone();
    let doc = cov.render();
    let readme = with_section(&std::fs::read_to_string(root.join("README.md"))?, &cov.readme_section())?;
    for (path, want) in [("docs/spec/coverage.md", &doc), ("README.md", &readme)] {
        let have = std::fs::read_to_string(root.join(path)).unwrap_or_default();
        if have != *want {
            if check {
                problems.push(format!("{path} differs from what spec-coverage generates: run `just spec-coverage` and commit"));
            } else {
                std::fs::write(root.join(path), want).with_context(|| format!("writing {path}"))?;
            }
        }
    }
    let counts: Vec<String> = cov.counts().iter().map(|(l, n)| format!("{l}: {n}")).collect();
    println!("spec-coverage: {}", counts.join(", "));
    Ok(problems)
}

/// `readme` with the text between the coverage markers replaced by `section`.
fn with_section(readme: &str, section: &str) -> Result<String> {
    let (Some(b), Some(e)) = (readme.find(BEGIN), readme.find(END)) else {
        bail!("README.md has no {BEGIN:?} ... {END:?} markers");
    };
    Ok(format!("{}{BEGIN}{section}{}", &readme[..b], &readme[e..]))
}
