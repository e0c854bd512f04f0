//! Checker `schema`: every EK-ROJ datagram (UDP 9990) parses and validates, every EK-KOR datagram
//! (UDP 9991) is a well-formed frame within 64 bytes, both protocols are unicast, and ABORT is only
//! exchanged between nodes claiming the `abort` capability. Each bad message is one finding; the
//! report also counts bad messages per node and kind.

use super::{Checker, Ctx, NodeRef, SCHEMA};
use crate::trace::{Body, Event};
use crate::wire::RojBody;
use ekc_oracle::clause::{self, ClauseId};

#[derive(Default)]
pub struct SchemaChecker;

impl Checker for SchemaChecker {
    fn name(&self) -> &'static str {
        SCHEMA
    }

    fn clauses(&self) -> Vec<ClauseId> {
        vec![
            clause::ROJ_WIRE_1,
            clause::ROJ_WIRE_2,
            clause::ROJ_WIRE_3,
            clause::ROJ_WIRE_5,
            clause::ROJ_ENV_1,
            clause::ROJ_ENV_2,
            clause::ROJ_ENV_3,
            clause::ROJ_ENV_4,
            clause::ROJ_ENV_5,
            clause::ROJ_ANN_1,
            clause::ROJ_ANN_2,
            clause::ROJ_PROP_1,
            clause::ROJ_PROP_2,
            clause::ROJ_PROP_3,
            clause::ROJ_PROP_4,
            clause::ROJ_PROP_5,
            clause::ROJ_VOTE_7,
            clause::ROJ_COMMIT_4,
            clause::ROJ_ABORT_1,
            clause::ROJ_ABORT_2,
            clause::KOR_WIRE_1,
            clause::KOR_WIRE_2,
            clause::KOR_FRAME_1,
            clause::KOR_FRAME_2,
            clause::KOR_FRAME_3,
            clause::KOR_EVT_1,
            clause::KOR_EVT_2,
            clause::KOR_EVT_3,
            clause::KOR_EVT_4,
            clause::KOR_EVT_5,
            clause::KOR_EVT_6,
            clause::KOR_GOS_1,
            clause::KOR_GOS_3,
            clause::KOR_ACK_1,
            clause::KOR_REQ_1,
            clause::KOR_SYNC_1,
            clause::KOR_TYPE_1,
        ]
    }

    fn event(&mut self, ev: &Event, cx: &mut Ctx) {
        let src = *ev.src.ip();
        // Resolved only for a finding: most datagrams are valid and need no name.
        let who = |cx: &Ctx| cx.name(src);
        let dst_multi = ev.dst.ip().is_multicast() || ev.dst.ip().is_broadcast() || ev.dst.ip().octets()[3] == 255;
        match &ev.body {
            Body::RojBad(b) => cx.report(
                SCHEMA,
                b.clause,
                &[ev.frame],
                vec![NodeRef::Ip(src)],
                format!("{} sent an invalid EK-ROJ datagram ({} bytes): {}.", who(cx), ev.len, b.detail),
            ),
            Body::KorBad(b) => cx.report(
                SCHEMA,
                b.clause,
                &[ev.frame],
                vec![NodeRef::Ip(src)],
                format!("{} sent an invalid EK-KOR frame ({} bytes): {}.", who(cx), ev.len, b.detail),
            ),
            Body::Kor(k) => {
                for b in &k.violations {
                    cx.report(SCHEMA, b.clause, &[ev.frame], vec![NodeRef::Ip(src)], format!("{} sent an invalid {}: {}.", who(cx), k.frame.type_name(), b.detail));
                }
                if dst_multi {
                    cx.report(SCHEMA, clause::KOR_WIRE_1, &[ev.frame], vec![NodeRef::Ip(src)], format!("{} sent an EK-KOR frame to {} instead of unicast.", who(cx), ev.dst.ip()));
                }
            }
            Body::Roj(m) => {
                if dst_multi {
                    cx.report(SCHEMA, clause::ROJ_WIRE_3, &[ev.frame], vec![NodeRef::Ip(src)], format!("{} sent {} to {} instead of unicast.", who(cx), m.body.type_name(), ev.dst.ip()));
                }
                if let RojBody::Abort(a) = &m.body {
                    let claims = |ip| cx.nodes.caps_of(ip).iter().any(|c| c == "abort");
                    let known = |ip| !cx.nodes.caps_of(ip).is_empty();
                    if known(src) && !claims(src) {
                        cx.report(SCHEMA, clause::ROJ_ABORT_1, &[ev.frame], vec![NodeRef::Ip(src)], format!("{} sent ABORT for {} without announcing capability abort.", who(cx), a.pid));
                    } else if known(*ev.dst.ip()) && !claims(*ev.dst.ip()) {
                        let to = cx.name(*ev.dst.ip());
                        cx.report(
                            SCHEMA,
                            clause::ROJ_ABORT_1,
                            &[ev.frame],
                            vec![NodeRef::Ip(src), NodeRef::Ip(*ev.dst.ip())],
                            format!("{} sent ABORT for {} to {to}, which does not announce capability abort.", who(cx), a.pid),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, _cx: &mut Ctx) {}
}
