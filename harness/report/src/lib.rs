//! Reports people read: the static HTML report (matrix, verdicts with evidence, message sequence
//! charts, plots), certification bundles with manifests, and trace diffs.
