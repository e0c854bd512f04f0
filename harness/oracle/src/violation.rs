//! The verdict type every oracle returns on bad input: which clause was broken, how, and where.

use crate::clause::ClauseId;
use serde::Serialize;
use std::fmt;

/// One broken clause, found in one message or frame.
///
/// `path` is a JSON pointer into the message (`/payload/members`) for EK-ROJ and control
/// messages, and a field path (`/event/hop_count`) for EK-KOR frames.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub clause: ClauseId,
    pub detail: String,
    pub path: Option<String>,
}

impl Violation {
    pub fn new(clause: ClauseId, detail: impl Into<String>) -> Violation {
        Violation { clause, detail: detail.into(), path: None }
    }

    pub fn at(clause: ClauseId, path: impl Into<String>, detail: impl Into<String>) -> Violation {
        Violation { clause, detail: detail.into(), path: Some(path.into()) }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.clause, self.detail)?;
        if let Some(path) = &self.path {
            write!(f, " (at {path})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violation {}
