//! Golden-vector replay against a live node through the fake peer: each applicable vector of
//! vectors/roj and vectors/kor is sent to the node, its reply (or silence) is compared with the
//! vector's expectation, and the node must still answer `ping` afterwards.
use crate::verdict::Outcome;
use crate::workload::Workload;

pub async fn replay(_w: &mut Workload<'_>, _node: usize) -> Result<(), Outcome> {
    Err(Outcome::error("golden-vector replay is not available in this build"))
}
