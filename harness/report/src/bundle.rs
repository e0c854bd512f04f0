//! Certification bundles: a directory (and one reproducible `.tar.gz` of it) holding a run's
//! report and artefacts, the capability statement used, and `bundle.json` pinning what was tested
//! with what (suite version, git commit, image ids, vector-set and schema hashes, seeds), sealed by
//! `MANIFEST.sha256` (the `sha256sum -c` format) so a third party can check it with standard tools
//! or with [`verify_bundle`], which also accepts the archive without unpacking it.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "MANIFEST.sha256";
pub const PINS: &str = "bundle.json";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

fn io(path: &Path, e: impl std::fmt::Display) -> BundleError {
    BundleError::Io { path: path.display().to_string(), reason: e.to_string() }
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String, BundleError> {
    let mut f = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| io(path, e))?;
    Ok(hex::encode(h.finalize()))
}

/// Every regular file under `root`, as sorted relative paths with `/` separators. Symlinks are
/// skipped (a bundle holds files, not pointers out of it).
pub fn list_files(root: &Path) -> Result<Vec<String>, BundleError> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), BundleError> {
        for e in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let e = e.map_err(|e| io(dir, e))?;
            let ft = e.file_type().map_err(|x| io(&e.path(), x))?;
            if ft.is_dir() {
                walk(root, &e.path(), out)?;
            } else if ft.is_file() {
                let rel = e.path().strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
                out.push(rel);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

/// Hash of a directory tree: SHA-256 over `"<sha256>  <relpath>\n"` lines of its files, sorted.
/// Stable across machines (no timestamps, no permissions).
pub fn tree_hash(root: &Path) -> Result<String, BundleError> {
    let mut h = Sha256::new();
    for rel in list_files(root)? {
        h.update(format!("{}  {rel}\n", sha256_file(&root.join(&rel))?));
    }
    Ok(hex::encode(h.finalize()))
}

fn copy_tree(from: &Path, to: &Path) -> Result<u64, BundleError> {
    let mut n = 0;
    for rel in list_files(from)? {
        let dst = to.join(&rel);
        if let Some(p) = dst.parent() {
            std::fs::create_dir_all(p).map_err(|e| io(p, e))?;
        }
        std::fs::copy(from.join(&rel), &dst).map_err(|e| io(&dst, e))?;
        n += 1;
    }
    Ok(n)
}

/// What goes into a bundle besides the run directory.
#[derive(Debug, Clone)]
pub struct BundleInput<'a> {
    /// The run directory (`reports/<run-id>/`), copied under `run/`.
    pub run_dir: Option<&'a Path>,
    /// The capability statement used, copied as `capabilities.json` (or its own extension).
    pub capabilities: Option<&'a Path>,
    /// The pins (`bundle.json`): suite version, git commit, images, hashes, seeds, pre-check...
    pub pins: Value,
    /// Extra files to include as (name in bundle, source).
    pub extra: Vec<(String, PathBuf)>,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub dir: PathBuf,
    pub archive: PathBuf,
    pub files: usize,
    pub bytes: u64,
    pub archive_bytes: u64,
}

/// Writes the bundle directory `out` (must not exist yet) and `out.tar.gz` next to it.
pub fn create_bundle(out: &Path, input: &BundleInput) -> Result<Bundle, BundleError> {
    if out.exists() {
        return Err(BundleError::Invalid(format!("{} already exists; a bundle is never written over", out.display())));
    }
    std::fs::create_dir_all(out).map_err(|e| io(out, e))?;
    if let Some(run) = input.run_dir {
        copy_tree(run, &out.join("run"))?;
    }
    if let Some(caps) = input.capabilities {
        let ext = caps.extension().and_then(|e| e.to_str()).unwrap_or("json");
        std::fs::copy(caps, out.join(format!("capabilities.{ext}"))).map_err(|e| io(caps, e))?;
    }
    for (name, src) in &input.extra {
        let dst = out.join(name);
        if let Some(p) = dst.parent() {
            std::fs::create_dir_all(p).map_err(|e| io(p, e))?;
        }
        std::fs::copy(src, &dst).map_err(|e| io(src, e))?;
    }
    let pins = serde_json::to_vec_pretty(&input.pins).map_err(|e| BundleError::Invalid(e.to_string()))?;
    std::fs::write(out.join(PINS), pins).map_err(|e| io(out, e))?;
    let files = list_files(out)?;
    let mut manifest = String::new();
    let mut bytes = 0;
    for rel in &files {
        let p = out.join(rel);
        bytes += p.metadata().map_err(|e| io(&p, e))?.len();
        manifest.push_str(&format!("{}  {rel}\n", sha256_file(&p)?));
    }
    std::fs::write(out.join(MANIFEST), manifest).map_err(|e| io(out, e))?;
    let archive = PathBuf::from(format!("{}.tar.gz", out.display()));
    write_archive(out, &archive)?;
    let archive_bytes = archive.metadata().map_err(|e| io(&archive, e))?.len();
    Ok(Bundle { dir: out.to_path_buf(), archive, files: files.len() + 1, bytes, archive_bytes })
}

/// A reproducible archive: sorted entries, zero mtimes and owners, mode 0644, under one top folder.
fn write_archive(dir: &Path, archive: &Path) -> Result<(), BundleError> {
    let top = dir.file_name().and_then(|n| n.to_str()).unwrap_or("bundle").to_string();
    let f = std::fs::File::create(archive).map_err(|e| io(archive, e))?;
    let gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for rel in list_files(dir)? {
        let p = dir.join(&rel);
        let data = std::fs::read(&p).map_err(|e| io(&p, e))?;
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, format!("{top}/{rel}"), data.as_slice()).map_err(|e| io(archive, e))?;
    }
    let gz = tar.into_inner().map_err(|e| io(archive, e))?;
    gz.finish().map_err(|e| io(archive, e))?;
    Ok(())
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    pub checked: usize,
    /// Files whose hash differs.
    pub mismatched: Vec<String>,
    /// Files in the manifest that are absent.
    pub missing: Vec<String>,
    /// Files present but not in the manifest.
    pub unlisted: Vec<String>,
    /// The pins, when present and valid JSON.
    pub pins: Option<Value>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.mismatched.is_empty() && self.missing.is_empty() && self.unlisted.is_empty() && self.checked > 0
    }
}

fn parse_manifest(text: &str) -> Result<BTreeMap<String, String>, BundleError> {
    let mut m = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (hash, path) = line.split_once("  ").ok_or_else(|| BundleError::Invalid(format!("{MANIFEST} line {}: expected `<sha256>  <path>`", i + 1)))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BundleError::Invalid(format!("{MANIFEST} line {}: {hash:?} is not a SHA-256", i + 1)));
        }
        if path.starts_with('/') || path.split('/').any(|c| c == "..") {
            return Err(BundleError::Invalid(format!("{MANIFEST} line {}: path {path:?} leaves the bundle", i + 1)));
        }
        m.insert(path.to_string(), hash.to_ascii_lowercase());
    }
    Ok(m)
}

fn compare(manifest: BTreeMap<String, String>, actual: BTreeMap<String, String>, pins: Option<Value>) -> Verification {
    let mut v = Verification { pins, ..Default::default() };
    for (path, want) in &manifest {
        match actual.get(path) {
            None => v.missing.push(path.clone()),
            Some(got) if got != want => v.mismatched.push(path.clone()),
            Some(_) => v.checked += 1,
        }
    }
    v.unlisted = actual.keys().filter(|p| !manifest.contains_key(*p) && p.as_str() != MANIFEST).cloned().collect();
    v
}

/// Verifies a bundle directory or `.tar.gz` archive against its manifest.
pub fn verify_bundle(path: &Path) -> Result<Verification, BundleError> {
    if path.is_dir() {
        let text = std::fs::read_to_string(path.join(MANIFEST)).map_err(|e| io(&path.join(MANIFEST), e))?;
        let manifest = parse_manifest(&text)?;
        let mut actual = BTreeMap::new();
        for rel in list_files(path)? {
            actual.insert(rel.clone(), sha256_file(&path.join(&rel))?);
        }
        let pins = std::fs::read(path.join(PINS)).ok().and_then(|b| serde_json::from_slice(&b).ok());
        return Ok(compare(manifest, actual, pins));
    }
    let f = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut actual = BTreeMap::new();
    let mut manifest_text = None;
    let mut pins = None;
    for entry in ar.entries().map_err(|e| io(path, format!("not a .tar.gz bundle: {e}")))? {
        let mut entry = entry.map_err(|e| io(path, format!("corrupt archive: {e}")))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = entry.path().map_err(|e| io(path, e))?.to_string_lossy().to_string();
        // Strip the single top folder.
        let rel = name.split_once('/').map(|(_, r)| r.to_string()).unwrap_or(name);
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(|e| io(path, format!("corrupt archive: {e}")))?;
        if rel == MANIFEST {
            manifest_text = Some(String::from_utf8_lossy(&data).to_string());
        }
        if rel == PINS {
            pins = serde_json::from_slice(&data).ok();
        }
        actual.insert(rel, hex::encode(Sha256::digest(&data)));
    }
    let text = manifest_text.ok_or_else(|| BundleError::Invalid(format!("{}: no {MANIFEST} in the archive", path.display())))?;
    Ok(compare(parse_manifest(&text)?, actual, pins))
}
