//! The EK-ROJ key-value apply order (ROJ-KV-1): higher version wins, then the byte-wise greater
//! value, so replicas converge whatever order COMMITs and bridge events arrive in.

/// ROJ-KV-1: does committed entry `new = (version, value)` replace the stored `old`?
pub fn supersedes(new: (u32, &str), old: (u32, &str)) -> bool {
    new.0 > old.0 || (new.0 == old.0 && new.1.as_bytes() > old.1.as_bytes())
}

/// Applies `new` to a stored entry under ROJ-KV-1 (an absent key takes any entry).
/// Returns whether the stored entry changed.
pub fn apply(stored: &mut Option<(u32, String)>, new: (u32, &str)) -> bool {
    match stored {
        Some((version, value)) if !supersedes(new, (*version, value.as_str())) => false,
        _ => {
            *stored = Some((new.0, new.1.to_owned()));
            true
        }
    }
}
