//! Oracle codecs: the suite's single judge of well-formedness for EK-ROJ messages, EK-KOR frames,
//! version vectors, LWW order, the commit threshold and the control-protocol digests. No I/O:
//! every function takes bytes or values and returns a verdict, so checkers, fuzz targets and the
//! lab all judge with the same code.

pub mod clause;
pub mod digest;
pub mod kor;
pub mod kv;
pub mod lww;
pub mod roj;
mod roj_fast;
pub mod threshold;
pub mod vv;

mod violation;

pub use clause::ClauseId;
pub use violation::Violation;
