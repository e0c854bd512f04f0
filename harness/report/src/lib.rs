//! Reports people read: the static HTML report (matrix, verdicts with evidence, message sequence
//! charts, plots), certification bundles with manifests, and trace diffs.
//!
//! Entry points: [`results::read_run`] + [`html::render_run`] (the `ekconform report` command),
//! [`diff::diff_captures`] (`ekconform diff`), [`bundle::create_bundle`] and
//! [`bundle::verify_bundle`] (`ekconform certify`), [`synth::write_run`] (synthetic runs for tests
//! and benchmarks).

pub mod bundle;
pub mod contract;
pub mod diff;
pub mod html;
pub mod msc;
pub mod plots;
pub mod results;
pub mod synth;

/// Reads a run directory and renders its report into `RUN_DIR/html/`.
pub fn render_run_dir(run_dir: &std::path::Path, opts: &html::RenderOptions) -> Result<html::Rendered, String> {
    let run = results::read_run(run_dir).map_err(|e| e.to_string())?;
    html::render_run(&run, &run_dir.join("html"), opts).map_err(|e| format!("writing the report: {e}"))
}
