//! Local, offline image builds cached by content hash (docker/images.toml). An image is rebuilt
//! only when the hash of its inputs differs from the `io.ekconform.content-hash` label of the
//! image present locally; an unchanged tree therefore costs one hash and one inspect per image.
use crate::docker;
use anyhow::{bail, Context, Result};
use bollard::query_parameters::BuildImageOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub const LABEL_HASH: &str = "io.ekconform.content-hash";

#[derive(Debug, Clone, Deserialize)]
pub struct ImageDecl {
    pub name: String,
    pub role: String,
    #[serde(rename = "impl")]
    pub implementation: Option<String>,
    pub builder: String,
    pub recipe: Option<String>,
    /// Image the recipe produces, when it is not `name` (the stamp then tags `name` from it).
    pub source: Option<String>,
    pub inputs: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    image: Vec<ImageDecl>,
}

pub fn load_manifest(root: &Path) -> Result<Vec<ImageDecl>> {
    let path = root.join("docker/images.toml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let m: Manifest = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(m.image)
}

/// The repository root: the nearest ancestor of the current directory holding docker/images.toml.
pub fn repo_root() -> Result<PathBuf> {
    let mut dir = std::env::current_dir()?;
    loop {
        if dir.join("docker/images.toml").is_file() {
            return Ok(dir);
        }
        if !dir.pop() {
            bail!("not inside an ekconform checkout (no docker/images.toml above the current directory)");
        }
    }
}

/// Files under `inputs`: what git tracks plus untracked files it would not ignore; outside a git
/// checkout, every file (skipping `target` directories).
fn input_files(root: &Path, inputs: &[String]) -> Result<Vec<PathBuf>> {
    let git = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--"])
        .args(inputs)
        .output();
    let mut files: Vec<PathBuf> = match git {
        Ok(out) if out.status.success() => out
            .stdout
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| PathBuf::from(String::from_utf8_lossy(s).into_owned()))
            .filter(|p| root.join(p).is_file())
            .collect(),
        _ => {
            let mut v = Vec::new();
            for i in inputs {
                walk(root, Path::new(i), &mut v);
            }
            v
        }
    };
    files.sort();
    files.dedup();
    Ok(files)
}

fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let full = root.join(rel);
    if full.is_file() {
        out.push(rel.to_path_buf());
    } else if let Ok(rd) = std::fs::read_dir(&full) {
        for e in rd.flatten() {
            let name = e.file_name();
            if name == "target" || name == ".git" {
                continue;
            }
            walk(root, &rel.join(name), out);
        }
    }
}

/// sha256 over (path, length, content) of every input file, plus the image name and builder.
pub fn content_hash(root: &Path, decl: &ImageDecl) -> Result<(String, usize)> {
    let files = input_files(root, &decl.inputs)?;
    let mut h = Sha256::new();
    h.update(decl.name.as_bytes());
    h.update([0]);
    h.update(decl.builder.as_bytes());
    h.update([0]);
    for f in &files {
        let data = std::fs::read(root.join(f)).with_context(|| format!("reading {}", f.display()))?;
        h.update(f.to_string_lossy().as_bytes());
        h.update([0]);
        h.update((data.len() as u64).to_le_bytes());
        h.update(&data);
    }
    Ok((hex::encode(h.finalize()), files.len()))
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageOutcome {
    pub name: String,
    pub role: String,
    pub implementation: Option<String>,
    /// `cached`, `built`, `missing` (builder unavailable: e.g. the node's recipe does not exist yet)
    /// or `failed`.
    pub status: String,
    pub content_hash: String,
    pub image_id: Option<String>,
    pub seconds: f64,
    pub detail: String,
}

/// Build (or reuse) every image selected by `only` (all when empty).
pub async fn ensure_images(docker: &Docker, root: &Path, only: &[String], force: bool) -> Result<Vec<ImageOutcome>> {
    let decls = load_manifest(root)?;
    let mut out = Vec::new();
    for d in decls {
        if !only.is_empty() && !only.iter().any(|o| *o == d.name || Some(o) == d.implementation.as_ref() || *o == d.role) {
            continue;
        }
        let t0 = Instant::now();
        let (hash, nfiles) = content_hash(root, &d)?;
        let existing = docker::image_id(docker, &d.name).await?;
        if !force {
            if let Some((id, labels)) = &existing {
                if labels.get(LABEL_HASH) == Some(&hash) {
                    out.push(outcome(&d, "cached", &hash, Some(id.clone()), t0, format!("{nfiles} input files unchanged")));
                    continue;
                }
            }
        }
        if nfiles == 0 {
            out.push(outcome(&d, "missing", &hash, existing.map(|e| e.0), t0, format!("no input files under {:?}", d.inputs)));
            continue;
        }
        let result = match d.builder.as_str() {
            "helper" => build_helper(docker, root, &d, &hash).await,
            "recipe" => build_by_recipe(docker, root, &d, &hash).await,
            other => Err(anyhow::anyhow!("unknown builder {other}")),
        };
        match result {
            Ok(BuildResult::Built) => {
                let id = docker::image_id(docker, &d.name).await?.map(|e| e.0);
                out.push(outcome(&d, "built", &hash, id, t0, format!("{nfiles} input files")));
            }
            Ok(BuildResult::NoRecipe(why)) => out.push(outcome(&d, "missing", &hash, existing.map(|e| e.0), t0, why)),
            Err(e) => out.push(outcome(&d, "failed", &hash, None, t0, format!("{e:#}"))),
        }
    }
    Ok(out)
}

fn outcome(d: &ImageDecl, status: &str, hash: &str, id: Option<String>, t0: Instant, detail: String) -> ImageOutcome {
    ImageOutcome {
        name: d.name.clone(),
        role: d.role.clone(),
        implementation: d.implementation.clone(),
        status: status.into(),
        content_hash: hash.into(),
        image_id: id,
        seconds: t0.elapsed().as_secs_f64(),
        detail,
    }
}

enum BuildResult {
    Built,
    NoRecipe(String),
}

/// Static helper binary (glibc, crt-static) built with cargo, then a FROM-scratch image.
async fn build_helper(docker: &Docker, root: &Path, d: &ImageDecl, hash: &str) -> Result<BuildResult> {
    let crate_dir = root.join("docker/helper");
    let target_dir = root.join("target/helper");
    let status = tokio::process::Command::new("cargo")
        .current_dir(&crate_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("CARGO_TARGET_DIR", &target_dir)
        .args(["build", "--release", "--quiet", "--locked", "--target", "x86_64-unknown-linux-gnu"])
        .status()
        .await
        .context("running cargo for the helper image")?;
    if !status.success() {
        bail!("cargo build of docker/helper failed ({status})");
    }
    let bin = std::fs::read(target_dir.join("x86_64-unknown-linux-gnu/release/ekc-helper"))?;
    let dockerfile = std::fs::read(crate_dir.join("Dockerfile"))?;
    let mut ar = tar::Builder::new(Vec::new());
    append(&mut ar, "Dockerfile", &dockerfile, 0o644)?;
    append(&mut ar, "ekc-helper", &bin, 0o755)?;
    let ctx = ar.into_inner()?;
    build_context(docker, &d.name, hash, ctx).await?;
    Ok(BuildResult::Built)
}

fn append(ar: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8], mode: u32) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_cksum();
    ar.append_data(&mut header, name, data)?;
    Ok(())
}

/// The node's own recipe (`just <recipe>`) builds the image; a one-line build then adds the label.
async fn build_by_recipe(docker: &Docker, root: &Path, d: &ImageDecl, hash: &str) -> Result<BuildResult> {
    let recipe = d.recipe.as_deref().context("recipe builder without `recipe`")?;
    let list = tokio::process::Command::new("just").current_dir(root).args(["--summary"]).output().await;
    let summary = match list {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => bail!("`just --summary` failed: {}", String::from_utf8_lossy(&o.stderr).trim()),
        Err(e) => bail!("`just` is not installed ({e}); tools/setup.sh installs it"),
    };
    if !summary.split_whitespace().any(|r| r == recipe) {
        return Ok(BuildResult::NoRecipe(format!("the Justfile has no recipe `{recipe}` yet")));
    }
    let out = tokio::process::Command::new("just")
        .current_dir(root)
        .arg(recipe)
        .output()
        .await
        .with_context(|| format!("running `just {recipe}`"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(15).collect();
        bail!("`just {recipe}` failed ({}):\n{}", out.status, tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    let source = d.source.as_deref().unwrap_or(&d.name);
    if docker::image_id(docker, source).await?.is_none() {
        bail!("`just {recipe}` succeeded but image {source} does not exist");
    }
    let dockerfile = format!("FROM {source}\nLABEL {LABEL_HASH}={hash} io.ekconform.managed=true\n");
    let mut ar = tar::Builder::new(Vec::new());
    append(&mut ar, "Dockerfile", dockerfile.as_bytes(), 0o644)?;
    build_context(docker, &d.name, hash, ar.into_inner()?).await?;
    Ok(BuildResult::Built)
}

async fn build_context(docker: &Docker, tag: &str, hash: &str, ctx: Vec<u8>) -> Result<()> {
    let labels = std::collections::HashMap::from([
        (LABEL_HASH.to_string(), hash.to_string()),
        (docker::LABEL_MANAGED.to_string(), "true".to_string()),
    ]);
    let opts = BuildImageOptionsBuilder::default().t(tag).rm(true).forcerm(true).labels(&labels).build();
    let mut stream = docker.build_image(opts, None, Some(bollard::body_full(ctx.into())));
    let mut log = String::new();
    while let Some(item) = stream.next().await {
        let info = item.with_context(|| format!("building {tag}"))?;
        if let Some(e) = info.error_detail.and_then(|d| d.message) {
            bail!("building {tag}: {e}\n{log}");
        }
        if let Some(s) = info.stream {
            log.push_str(&s);
        }
    }
    Ok(())
}
