//! Every clause ID of the normative spec (`docs/spec/*.md`) as a constant, so code, vectors and
//! reports cite clauses by name and a typo is a compile error. `tests/clauses.rs` checks this list
//! against the spec text in both directions.

use serde::{Serialize, Serializer};
use std::fmt;

/// A stable clause identifier such as `ROJ-VOTE-4`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClauseId(pub &'static str);

impl ClauseId {
    /// The identifier text, e.g. `"ROJ-ENV-1"`.
    pub const fn as_str(&self) -> &'static str {
        self.0
    }

    /// Looks a clause up by its text; `None` when the spec has no such clause.
    pub fn from_name(name: &str) -> Option<ClauseId> {
        ALL.iter().copied().find(|c| c.0 == name)
    }
}

impl fmt::Display for ClauseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for ClauseId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

pub const BRIDGE_1: ClauseId = ClauseId("BRIDGE-1");
pub const BRIDGE_2: ClauseId = ClauseId("BRIDGE-2");
pub const BRIDGE_3: ClauseId = ClauseId("BRIDGE-3");
pub const BRIDGE_4: ClauseId = ClauseId("BRIDGE-4");
pub const CTL_CAP_1: ClauseId = ClauseId("CTL-CAP-1");
pub const CTL_CAP_2: ClauseId = ClauseId("CTL-CAP-2");
pub const CTL_CAP_3: ClauseId = ClauseId("CTL-CAP-3");
pub const CTL_CAP_4: ClauseId = ClauseId("CTL-CAP-4");
pub const CTL_CMD_1: ClauseId = ClauseId("CTL-CMD-1");
pub const CTL_CMD_2: ClauseId = ClauseId("CTL-CMD-2");
pub const CTL_CMD_3: ClauseId = ClauseId("CTL-CMD-3");
pub const CTL_CMD_4: ClauseId = ClauseId("CTL-CMD-4");
pub const CTL_CMD_5: ClauseId = ClauseId("CTL-CMD-5");
pub const CTL_CMD_6: ClauseId = ClauseId("CTL-CMD-6");
pub const CTL_CMD_7: ClauseId = ClauseId("CTL-CMD-7");
pub const CTL_CMD_8: ClauseId = ClauseId("CTL-CMD-8");
pub const CTL_CMD_9: ClauseId = ClauseId("CTL-CMD-9");
pub const CTL_CMD_10: ClauseId = ClauseId("CTL-CMD-10");
pub const CTL_CMD_11: ClauseId = ClauseId("CTL-CMD-11");
pub const CTL_CMD_12: ClauseId = ClauseId("CTL-CMD-12");
pub const CTL_CMD_13: ClauseId = ClauseId("CTL-CMD-13");
pub const CTL_DIGEST_1: ClauseId = ClauseId("CTL-DIGEST-1");
pub const CTL_DIGEST_2: ClauseId = ClauseId("CTL-DIGEST-2");
pub const CTL_DIGEST_3: ClauseId = ClauseId("CTL-DIGEST-3");
pub const CTL_ENV_1: ClauseId = ClauseId("CTL-ENV-1");
pub const CTL_ENV_2: ClauseId = ClauseId("CTL-ENV-2");
pub const CTL_ENV_3: ClauseId = ClauseId("CTL-ENV-3");
pub const CTL_ENV_4: ClauseId = ClauseId("CTL-ENV-4");
pub const CTL_ENV_5: ClauseId = ClauseId("CTL-ENV-5");
pub const CTL_ENV_6: ClauseId = ClauseId("CTL-ENV-6");
pub const CTL_ENV_7: ClauseId = ClauseId("CTL-ENV-7");
pub const CTL_ENV_8: ClauseId = ClauseId("CTL-ENV-8");
pub const CTL_ENV_9: ClauseId = ClauseId("CTL-ENV-9");
pub const CTL_ENV_10: ClauseId = ClauseId("CTL-ENV-10");
pub const CTL_ENV_11: ClauseId = ClauseId("CTL-ENV-11");
pub const CTL_ENV_12: ClauseId = ClauseId("CTL-ENV-12");
pub const CTL_ENV_13: ClauseId = ClauseId("CTL-ENV-13");
pub const CTL_ENV_14: ClauseId = ClauseId("CTL-ENV-14");
pub const CTL_ENV_15: ClauseId = ClauseId("CTL-ENV-15");
pub const CTL_ENV_16: ClauseId = ClauseId("CTL-ENV-16");
pub const CTL_IMG_1: ClauseId = ClauseId("CTL-IMG-1");
pub const CTL_IMG_2: ClauseId = ClauseId("CTL-IMG-2");
pub const CTL_IMG_3: ClauseId = ClauseId("CTL-IMG-3");
pub const CTL_LOG_1: ClauseId = ClauseId("CTL-LOG-1");
pub const CTL_LOG_2: ClauseId = ClauseId("CTL-LOG-2");
pub const CTL_PERSIST_1: ClauseId = ClauseId("CTL-PERSIST-1");
pub const CTL_PERSIST_2: ClauseId = ClauseId("CTL-PERSIST-2");
pub const CTL_READY_1: ClauseId = ClauseId("CTL-READY-1");
pub const CTL_STATE_1: ClauseId = ClauseId("CTL-STATE-1");
pub const CTL_WIRE_1: ClauseId = ClauseId("CTL-WIRE-1");
pub const CTL_WIRE_2: ClauseId = ClauseId("CTL-WIRE-2");
pub const CTL_WIRE_3: ClauseId = ClauseId("CTL-WIRE-3");
pub const CTL_WIRE_4: ClauseId = ClauseId("CTL-WIRE-4");
pub const KOR_ACK_1: ClauseId = ClauseId("KOR-ACK-1");
pub const KOR_ACK_2: ClauseId = ClauseId("KOR-ACK-2");
pub const KOR_AE_1: ClauseId = ClauseId("KOR-AE-1");
pub const KOR_AE_2: ClauseId = ClauseId("KOR-AE-2");
pub const KOR_AE_3: ClauseId = ClauseId("KOR-AE-3");
pub const KOR_AE_4: ClauseId = ClauseId("KOR-AE-4");
pub const KOR_CAUSAL_1: ClauseId = ClauseId("KOR-CAUSAL-1");
pub const KOR_EMIT_1: ClauseId = ClauseId("KOR-EMIT-1");
pub const KOR_EVT_1: ClauseId = ClauseId("KOR-EVT-1");
pub const KOR_EVT_2: ClauseId = ClauseId("KOR-EVT-2");
pub const KOR_EVT_3: ClauseId = ClauseId("KOR-EVT-3");
pub const KOR_EVT_4: ClauseId = ClauseId("KOR-EVT-4");
pub const KOR_EVT_5: ClauseId = ClauseId("KOR-EVT-5");
pub const KOR_EVT_6: ClauseId = ClauseId("KOR-EVT-6");
pub const KOR_EVT_7: ClauseId = ClauseId("KOR-EVT-7");
pub const KOR_FRAME_1: ClauseId = ClauseId("KOR-FRAME-1");
pub const KOR_FRAME_2: ClauseId = ClauseId("KOR-FRAME-2");
pub const KOR_FRAME_3: ClauseId = ClauseId("KOR-FRAME-3");
pub const KOR_GAP_1: ClauseId = ClauseId("KOR-GAP-1");
pub const KOR_GAP_2: ClauseId = ClauseId("KOR-GAP-2");
pub const KOR_GOS_1: ClauseId = ClauseId("KOR-GOS-1");
pub const KOR_GOS_2: ClauseId = ClauseId("KOR-GOS-2");
pub const KOR_GOS_3: ClauseId = ClauseId("KOR-GOS-3");
pub const KOR_HOP_1: ClauseId = ClauseId("KOR-HOP-1");
pub const KOR_HOP_2: ClauseId = ClauseId("KOR-HOP-2");
pub const KOR_HOP_3: ClauseId = ClauseId("KOR-HOP-3");
pub const KOR_LWW_1: ClauseId = ClauseId("KOR-LWW-1");
pub const KOR_LWW_2: ClauseId = ClauseId("KOR-LWW-2");
pub const KOR_LWW_3: ClauseId = ClauseId("KOR-LWW-3");
pub const KOR_NBR_1: ClauseId = ClauseId("KOR-NBR-1");
pub const KOR_NBR_2: ClauseId = ClauseId("KOR-NBR-2");
pub const KOR_REQ_1: ClauseId = ClauseId("KOR-REQ-1");
pub const KOR_REQ_2: ClauseId = ClauseId("KOR-REQ-2");
pub const KOR_RX_1: ClauseId = ClauseId("KOR-RX-1");
pub const KOR_STORE_1: ClauseId = ClauseId("KOR-STORE-1");
pub const KOR_SYNC_1: ClauseId = ClauseId("KOR-SYNC-1");
pub const KOR_SYNC_2: ClauseId = ClauseId("KOR-SYNC-2");
pub const KOR_TYPE_1: ClauseId = ClauseId("KOR-TYPE-1");
pub const KOR_TYPE_2: ClauseId = ClauseId("KOR-TYPE-2");
pub const KOR_VV_1: ClauseId = ClauseId("KOR-VV-1");
pub const KOR_VV_2: ClauseId = ClauseId("KOR-VV-2");
pub const KOR_WIRE_1: ClauseId = ClauseId("KOR-WIRE-1");
pub const KOR_WIRE_2: ClauseId = ClauseId("KOR-WIRE-2");
pub const KOR_WIRE_3: ClauseId = ClauseId("KOR-WIRE-3");
pub const KOR_WIRE_4: ClauseId = ClauseId("KOR-WIRE-4");
pub const ROJ_ABORT_1: ClauseId = ClauseId("ROJ-ABORT-1");
pub const ROJ_ABORT_2: ClauseId = ClauseId("ROJ-ABORT-2");
pub const ROJ_ANN_1: ClauseId = ClauseId("ROJ-ANN-1");
pub const ROJ_ANN_2: ClauseId = ClauseId("ROJ-ANN-2");
pub const ROJ_ANN_3: ClauseId = ClauseId("ROJ-ANN-3");
pub const ROJ_ANN_4: ClauseId = ClauseId("ROJ-ANN-4");
pub const ROJ_ANN_5: ClauseId = ClauseId("ROJ-ANN-5");
pub const ROJ_COMMIT_1: ClauseId = ClauseId("ROJ-COMMIT-1");
pub const ROJ_COMMIT_2: ClauseId = ClauseId("ROJ-COMMIT-2");
pub const ROJ_COMMIT_3: ClauseId = ClauseId("ROJ-COMMIT-3");
pub const ROJ_COMMIT_4: ClauseId = ClauseId("ROJ-COMMIT-4");
pub const ROJ_DISC_1: ClauseId = ClauseId("ROJ-DISC-1");
pub const ROJ_DISC_2: ClauseId = ClauseId("ROJ-DISC-2");
pub const ROJ_DISC_3: ClauseId = ClauseId("ROJ-DISC-3");
pub const ROJ_DISC_4: ClauseId = ClauseId("ROJ-DISC-4");
pub const ROJ_ENV_1: ClauseId = ClauseId("ROJ-ENV-1");
pub const ROJ_ENV_2: ClauseId = ClauseId("ROJ-ENV-2");
pub const ROJ_ENV_3: ClauseId = ClauseId("ROJ-ENV-3");
pub const ROJ_ENV_4: ClauseId = ClauseId("ROJ-ENV-4");
pub const ROJ_ENV_5: ClauseId = ClauseId("ROJ-ENV-5");
pub const ROJ_KV_1: ClauseId = ClauseId("ROJ-KV-1");
pub const ROJ_KV_2: ClauseId = ClauseId("ROJ-KV-2");
pub const ROJ_KV_3: ClauseId = ClauseId("ROJ-KV-3");
pub const ROJ_MEMB_1: ClauseId = ClauseId("ROJ-MEMB-1");
pub const ROJ_MEMB_2: ClauseId = ClauseId("ROJ-MEMB-2");
pub const ROJ_MEMB_3: ClauseId = ClauseId("ROJ-MEMB-3");
pub const ROJ_PROP_1: ClauseId = ClauseId("ROJ-PROP-1");
pub const ROJ_PROP_2: ClauseId = ClauseId("ROJ-PROP-2");
pub const ROJ_PROP_3: ClauseId = ClauseId("ROJ-PROP-3");
pub const ROJ_PROP_4: ClauseId = ClauseId("ROJ-PROP-4");
pub const ROJ_PROP_5: ClauseId = ClauseId("ROJ-PROP-5");
pub const ROJ_PROP_6: ClauseId = ClauseId("ROJ-PROP-6");
pub const ROJ_PROP_7: ClauseId = ClauseId("ROJ-PROP-7");
pub const ROJ_PROP_8: ClauseId = ClauseId("ROJ-PROP-8");
pub const ROJ_RETRY_1: ClauseId = ClauseId("ROJ-RETRY-1");
pub const ROJ_RETRY_2: ClauseId = ClauseId("ROJ-RETRY-2");
pub const ROJ_SAFE_1: ClauseId = ClauseId("ROJ-SAFE-1");
pub const ROJ_SAFE_1A: ClauseId = ClauseId("ROJ-SAFE-1a");
pub const ROJ_SAFE_2: ClauseId = ClauseId("ROJ-SAFE-2");
pub const ROJ_THR_1: ClauseId = ClauseId("ROJ-THR-1");
pub const ROJ_THR_2: ClauseId = ClauseId("ROJ-THR-2");
pub const ROJ_THR_3: ClauseId = ClauseId("ROJ-THR-3");
pub const ROJ_THR_4: ClauseId = ClauseId("ROJ-THR-4");
pub const ROJ_TIME_1: ClauseId = ClauseId("ROJ-TIME-1");
pub const ROJ_TIME_2: ClauseId = ClauseId("ROJ-TIME-2");
pub const ROJ_VOTE_1: ClauseId = ClauseId("ROJ-VOTE-1");
pub const ROJ_VOTE_2: ClauseId = ClauseId("ROJ-VOTE-2");
pub const ROJ_VOTE_3: ClauseId = ClauseId("ROJ-VOTE-3");
pub const ROJ_VOTE_4: ClauseId = ClauseId("ROJ-VOTE-4");
pub const ROJ_VOTE_5: ClauseId = ClauseId("ROJ-VOTE-5");
pub const ROJ_VOTE_6: ClauseId = ClauseId("ROJ-VOTE-6");
pub const ROJ_VOTE_7: ClauseId = ClauseId("ROJ-VOTE-7");
pub const ROJ_VOTE_8: ClauseId = ClauseId("ROJ-VOTE-8");
pub const ROJ_VOTE_9: ClauseId = ClauseId("ROJ-VOTE-9");
pub const ROJ_WIRE_1: ClauseId = ClauseId("ROJ-WIRE-1");
pub const ROJ_WIRE_2: ClauseId = ClauseId("ROJ-WIRE-2");
pub const ROJ_WIRE_3: ClauseId = ClauseId("ROJ-WIRE-3");
pub const ROJ_WIRE_4: ClauseId = ClauseId("ROJ-WIRE-4");
pub const ROJ_WIRE_5: ClauseId = ClauseId("ROJ-WIRE-5");
pub const ROJ_WIRE_6: ClauseId = ClauseId("ROJ-WIRE-6");

/// Every clause of the spec, grouped by prefix, numbered order.
pub const ALL: &[ClauseId] = &[
    BRIDGE_1,
    BRIDGE_2,
    BRIDGE_3,
    BRIDGE_4,
    CTL_CAP_1,
    CTL_CAP_2,
    CTL_CAP_3,
    CTL_CAP_4,
    CTL_CMD_1,
    CTL_CMD_2,
    CTL_CMD_3,
    CTL_CMD_4,
    CTL_CMD_5,
    CTL_CMD_6,
    CTL_CMD_7,
    CTL_CMD_8,
    CTL_CMD_9,
    CTL_CMD_10,
    CTL_CMD_11,
    CTL_CMD_12,
    CTL_CMD_13,
    CTL_DIGEST_1,
    CTL_DIGEST_2,
    CTL_DIGEST_3,
    CTL_ENV_1,
    CTL_ENV_2,
    CTL_ENV_3,
    CTL_ENV_4,
    CTL_ENV_5,
    CTL_ENV_6,
    CTL_ENV_7,
    CTL_ENV_8,
    CTL_ENV_9,
    CTL_ENV_10,
    CTL_ENV_11,
    CTL_ENV_12,
    CTL_ENV_13,
    CTL_ENV_14,
    CTL_ENV_15,
    CTL_ENV_16,
    CTL_IMG_1,
    CTL_IMG_2,
    CTL_IMG_3,
    CTL_LOG_1,
    CTL_LOG_2,
    CTL_PERSIST_1,
    CTL_PERSIST_2,
    CTL_READY_1,
    CTL_STATE_1,
    CTL_WIRE_1,
    CTL_WIRE_2,
    CTL_WIRE_3,
    CTL_WIRE_4,
    KOR_ACK_1,
    KOR_ACK_2,
    KOR_AE_1,
    KOR_AE_2,
    KOR_AE_3,
    KOR_AE_4,
    KOR_CAUSAL_1,
    KOR_EMIT_1,
    KOR_EVT_1,
    KOR_EVT_2,
    KOR_EVT_3,
    KOR_EVT_4,
    KOR_EVT_5,
    KOR_EVT_6,
    KOR_EVT_7,
    KOR_FRAME_1,
    KOR_FRAME_2,
    KOR_FRAME_3,
    KOR_GAP_1,
    KOR_GAP_2,
    KOR_GOS_1,
    KOR_GOS_2,
    KOR_GOS_3,
    KOR_HOP_1,
    KOR_HOP_2,
    KOR_HOP_3,
    KOR_LWW_1,
    KOR_LWW_2,
    KOR_LWW_3,
    KOR_NBR_1,
    KOR_NBR_2,
    KOR_REQ_1,
    KOR_REQ_2,
    KOR_RX_1,
    KOR_STORE_1,
    KOR_SYNC_1,
    KOR_SYNC_2,
    KOR_TYPE_1,
    KOR_TYPE_2,
    KOR_VV_1,
    KOR_VV_2,
    KOR_WIRE_1,
    KOR_WIRE_2,
    KOR_WIRE_3,
    KOR_WIRE_4,
    ROJ_ABORT_1,
    ROJ_ABORT_2,
    ROJ_ANN_1,
    ROJ_ANN_2,
    ROJ_ANN_3,
    ROJ_ANN_4,
    ROJ_ANN_5,
    ROJ_COMMIT_1,
    ROJ_COMMIT_2,
    ROJ_COMMIT_3,
    ROJ_COMMIT_4,
    ROJ_DISC_1,
    ROJ_DISC_2,
    ROJ_DISC_3,
    ROJ_DISC_4,
    ROJ_ENV_1,
    ROJ_ENV_2,
    ROJ_ENV_3,
    ROJ_ENV_4,
    ROJ_ENV_5,
    ROJ_KV_1,
    ROJ_KV_2,
    ROJ_KV_3,
    ROJ_MEMB_1,
    ROJ_MEMB_2,
    ROJ_MEMB_3,
    ROJ_PROP_1,
    ROJ_PROP_2,
    ROJ_PROP_3,
    ROJ_PROP_4,
    ROJ_PROP_5,
    ROJ_PROP_6,
    ROJ_PROP_7,
    ROJ_PROP_8,
    ROJ_RETRY_1,
    ROJ_RETRY_2,
    ROJ_SAFE_1,
    ROJ_SAFE_1A,
    ROJ_SAFE_2,
    ROJ_THR_1,
    ROJ_THR_2,
    ROJ_THR_3,
    ROJ_THR_4,
    ROJ_TIME_1,
    ROJ_TIME_2,
    ROJ_VOTE_1,
    ROJ_VOTE_2,
    ROJ_VOTE_3,
    ROJ_VOTE_4,
    ROJ_VOTE_5,
    ROJ_VOTE_6,
    ROJ_VOTE_7,
    ROJ_VOTE_8,
    ROJ_VOTE_9,
    ROJ_WIRE_1,
    ROJ_WIRE_2,
    ROJ_WIRE_3,
    ROJ_WIRE_4,
    ROJ_WIRE_5,
    ROJ_WIRE_6,
];
