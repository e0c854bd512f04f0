//! Where two captures diverge: clause by clause (the checkers' findings of each side, keyed by
//! clause) and message by message (a line diff of the normalized traces, so addresses, random
//! ids and timing jitter below 100 ms do not count as differences). The line diff is Myers
//! (`similar`) with a deadline: Myers costs O((N+M)·D), minutes for two long traces that differ
//! everywhere; past [`DIFF_DEADLINE`] the rest is shown as whole-block replacement, a correct but
//! coarser diff, and the result says so.

use ekc_checkers::{check_capture, trace_capture, CheckOptions, CheckReport, InputError};
use similar::{Algorithm, ChangeTag, TextDiff};
use std::time::{Duration, Instant};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Per clause: how many findings each side has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClauseDelta {
    pub clause: String,
    pub a: usize,
    pub b: usize,
}

/// The comparison of two captures.
#[derive(Debug, Clone)]
pub struct CaptureDiff {
    pub a_name: String,
    pub b_name: String,
    pub a_verdict: String,
    pub b_verdict: String,
    /// Clauses whose finding counts differ.
    pub clauses: Vec<ClauseDelta>,
    /// Unified diff of the normalized traces (empty when equal).
    pub trace_diff: String,
    /// Index (0-based line) of the first differing trace line, if any.
    pub first_divergence: Option<usize>,
    pub trace_lines: (usize, usize),
    /// The line diff hit [`DIFF_DEADLINE`]: differing stretches may be shown as whole blocks
    /// rather than line by line.
    pub coarse: bool,
}

impl CaptureDiff {
    pub fn same(&self) -> bool {
        self.clauses.is_empty() && self.first_divergence.is_none() && self.a_verdict == self.b_verdict
    }
}

/// How long the line diff may refine its result before it falls back to whole-block replacement.
pub const DIFF_DEADLINE: Duration = Duration::from_secs(2);

fn by_clause(r: &CheckReport) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for f in r.violations.iter().chain(r.warnings.iter()) {
        *m.entry(f.clause.to_string()).or_insert(0) += 1;
    }
    m
}

/// Compares two traces given as text (normalized trace lines).
pub fn diff_traces(a: &str, b: &str, context: usize) -> (String, Option<usize>) {
    let (text, first, _) = diff_traces_within(a, b, context, DIFF_DEADLINE);
    (text, first)
}

/// [`diff_traces`] with a deadline; the third value says whether it was hit.
pub fn diff_traces_within(a: &str, b: &str, context: usize, deadline: Duration) -> (String, Option<usize>, bool) {
    let started = Instant::now();
    let d = TextDiff::configure().algorithm(Algorithm::Myers).deadline(started + deadline).diff_lines(a, b);
    let coarse = started.elapsed() >= deadline;
    let (text, first) = render_ops(&d, context);
    (text, first, coarse)
}

fn render_ops<'a>(d: &TextDiff<'a, 'a, 'a, str>, context: usize) -> (String, Option<usize>) {
    let mut first = None;
    for op in d.ops() {
        if !matches!(op.tag(), similar::DiffTag::Equal) {
            first = Some(op.old_range().start);
            break;
        }
    }
    if first.is_none() {
        return (String::new(), None);
    }
    let mut out = String::new();
    for group in d.grouped_ops(context) {
        let (o, n) = (group.first().unwrap(), group.last().unwrap());
        let _ = writeln!(out, "@@ A line {} / B line {} @@", o.old_range().start + 1, o.new_range().start + 1);
        let _ = n;
        for op in &group {
            for change in d.iter_changes(op) {
                let sign = match change.tag() {
                    ChangeTag::Delete => "-",
                    ChangeTag::Insert => "+",
                    ChangeTag::Equal => " ",
                };
                let _ = write!(out, "{sign}{}", change.value());
                if change.missing_newline() {
                    out.push('\n');
                }
            }
        }
    }
    (out, first)
}

/// Drops the control protocol's lines (the suite's own traffic: its ids and timing differ
/// between any two runs and say nothing about the nodes).
fn without_control(trace: String) -> String {
    trace.lines().filter(|l| !l.contains(" CTL ")).flat_map(|l| [l, "\n"]).collect()
}

/// Compares two captures with the same options; `control` keeps the control protocol's messages
/// in the message diff.
pub fn diff_captures(a: &Path, b: &Path, opts: &CheckOptions, context: usize, control: bool) -> Result<CaptureDiff, InputError> {
    let ra = check_capture(a, opts)?;
    let rb = check_capture(b, opts)?;
    let (mut ta, mut tb) = (trace_capture(a, opts)?, trace_capture(b, opts)?);
    if !control {
        ta = without_control(ta);
        tb = without_control(tb);
    }
    let (ca, cb) = (by_clause(&ra), by_clause(&rb));
    let mut clauses: Vec<ClauseDelta> = ca.keys().chain(cb.keys()).collect::<std::collections::BTreeSet<_>>().into_iter().map(|k| ClauseDelta { clause: k.clone(), a: ca.get(k).copied().unwrap_or(0), b: cb.get(k).copied().unwrap_or(0) }).filter(|d| d.a != d.b).collect();
    clauses.sort_by(|x, y| x.clause.cmp(&y.clause));
    let (trace_diff, first_divergence, coarse) = diff_traces_within(&ta, &tb, context, DIFF_DEADLINE);
    let v = |r: &CheckReport| format!("{:?}", r.verdict).to_lowercase();
    Ok(CaptureDiff {
        a_name: a.display().to_string(),
        b_name: b.display().to_string(),
        a_verdict: v(&ra),
        b_verdict: v(&rb),
        clauses,
        trace_diff,
        first_divergence,
        trace_lines: (ta.lines().count(), tb.lines().count()),
        coarse,
    })
}

/// Text rendering for the terminal.
pub fn render_diff(d: &CaptureDiff) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "A: {} (verdict {}, {} trace lines)", d.a_name, d.a_verdict, d.trace_lines.0);
    let _ = writeln!(o, "B: {} (verdict {}, {} trace lines)", d.b_name, d.b_verdict, d.trace_lines.1);
    if d.same() {
        let _ = writeln!(o, "same: equal verdicts, equal findings per clause, equal normalized traces");
        return o;
    }
    if d.clauses.is_empty() {
        let _ = writeln!(o, "clauses: same findings per clause");
    } else {
        let _ = writeln!(o, "clauses that differ (findings in A -> B):");
        for c in &d.clauses {
            let _ = writeln!(o, "  {:<14} {} -> {}", c.clause, c.a, c.b);
        }
    }
    match d.first_divergence {
        None => {
            let _ = writeln!(o, "messages: same normalized trace");
        }
        Some(line) => {
            let _ = writeln!(o, "messages: first divergence at trace line {} (A)", line + 1);
            if d.coarse {
                let _ = writeln!(o, "(the line diff stopped refining after {} s: later differences may be shown as whole blocks)", DIFF_DEADLINE.as_secs());
            }
            o.push_str(&d.trace_diff);
        }
    }
    o
}
