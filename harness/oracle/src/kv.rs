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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_then_bytewise_value() {
        assert!(supersedes((5, "a"), (4, "zzz")));
        assert!(!supersedes((4, "zzz"), (5, "a")));
        assert!(supersedes((4, "b"), (4, "a")));
        assert!(supersedes((4, "a"), (4, "")), "longer with equal prefix is greater");
        assert!(supersedes((4, "a"), (4, "Z")), "byte order: lower case after upper case");
        assert!(!supersedes((4, "a"), (4, "a")), "an equal entry changes nothing");
    }

    #[test]
    fn apply_keeps_the_maximum_whatever_the_order() {
        let entries = [(3, "x"), (5, "a"), (5, "b"), (4, "z")];
        let mut forward = None;
        let mut backward = None;
        for e in entries {
            apply(&mut forward, e);
        }
        for e in entries.iter().rev() {
            apply(&mut backward, *e);
        }
        assert_eq!(forward, Some((5, "b".to_owned())));
        assert_eq!(forward, backward);
    }
}
