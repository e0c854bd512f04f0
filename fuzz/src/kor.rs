//! EK-KOR verdicts of the oracle and the Rust node, in the canonical line format the C shim uses.
//! The Rust node's EventRepr does not keep `sequence` (a receiver re-numbers), so its line reads
//! `sequence` through the node's own checked view (README, "Normalisations").

use crate::Verdict;
use ekc_node_rust::codec::kor_frame as node;
use ekc_oracle::kor::KorRepr;

fn entries(list: impl Iterator<Item = (u8, u32)>) -> String {
    list.map(|(o, s)| format!("{o}:{s}")).collect::<Vec<_>>().join(",")
}

/// The oracle's judgement (`KorRepr::parse`).
pub fn oracle(data: &[u8]) -> Verdict {
    match KorRepr::parse(data) {
        Ok(KorRepr::Gossip(g)) => {
            let e = g.event;
            Verdict::accept(format!(
                "GOSSIP src={} vv={} seq={} ts={} type={} flags={} origin={} hop={} oseq={} payload={}",
                g.source_module,
                hex::encode(g.vv_summary),
                e.sequence,
                e.timestamp_us,
                e.event_type,
                e.flags,
                e.origin_id,
                e.hop_count,
                e.origin_seq,
                hex::encode(e.payload)
            ))
        }
        Ok(KorRepr::Ack(a)) => Verdict::accept(format!(
            "ACK src={} entries={}",
            a.source_module,
            entries(a.entries().iter().map(|e| (e.origin_id, e.seq)))
        )),
        Ok(KorRepr::Request(r)) => Verdict::accept(format!(
            "REQUEST src={} target={} from={} to={}",
            r.source_module, r.target_origin, r.from_seq, r.to_seq
        )),
        Ok(KorRepr::VvSync(s)) => Verdict::accept(format!(
            "VV_SYNC src={} lo={} hi={} entries={}",
            s.source_module,
            s.lo,
            s.hi,
            entries(s.entries().iter().map(|e| (e.origin_id, e.seq)))
        )),
        Err(v) => Verdict::reject(v.to_string()),
    }
}

/// The Rust node's codec (`KorRepr::parse_bytes`).
pub fn rust_node(data: &[u8]) -> Verdict {
    match node::KorRepr::parse_bytes(data) {
        Ok(node::KorRepr::Gossip { source_module, summary, event: e }) => {
            let mut vv = [0u8; 7];
            vv[0] = summary.origins;
            vv[1..5].copy_from_slice(&summary.sum.to_le_bytes());
            vv[5..7].copy_from_slice(&summary.crc.to_le_bytes());
            let sequence = node::Frame::new_checked(data).map(|f| f.event().sequence()).unwrap_or(0);
            Verdict::accept(format!(
                "GOSSIP src={source_module} vv={} seq={sequence} ts={} type={} flags={} origin={} hop={} oseq={} payload={}",
                hex::encode(vv),
                e.timestamp_us,
                e.event_type,
                e.flags,
                e.origin_id,
                e.hop_count,
                e.origin_seq,
                hex::encode(e.payload)
            ))
        }
        Ok(node::KorRepr::Ack { source_module, acks }) => {
            Verdict::accept(format!("ACK src={source_module} entries={}", entries(acks.into_iter())))
        }
        Ok(node::KorRepr::Request { source_module, target_origin, from_seq, to_seq }) => Verdict::accept(format!(
            "REQUEST src={source_module} target={target_origin} from={from_seq} to={to_seq}"
        )),
        Ok(node::KorRepr::VvSync { source_module, lo, hi, entries: list }) => Verdict::accept(format!(
            "VV_SYNC src={source_module} lo={lo} hi={hi} entries={}",
            entries(list.into_iter())
        )),
        Err(e) => Verdict::reject(format!("{} ({})", e.clause, e.kind)),
    }
}

/// Every parser's verdict, the oracle first.
pub fn all(data: &[u8]) -> [(&'static str, Verdict); 3] {
    [("oracle", oracle(data)), ("rust-node", rust_node(data)), ("c-node", crate::c_node::kor(data))]
}
