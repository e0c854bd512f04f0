//! The oracle's EK-KOR frame views on arbitrary datagrams: `Frame::new_checked` makes every accessor
//! of the frame's type safe, `KorRepr::parse` never panics, a parsed frame passes `new_checked`, and
//! a valid frame re-encodes to exactly its bytes (KOR-WIRE-2/3, KOR-FRAME-1..3, KOR-GOS-*, KOR-EVT-*,
//! KOR-ACK-1, KOR-REQ-1, KOR-SYNC-1).
#![no_main]
use ekc_oracle::kor::{msg_type, Frame, KorRepr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = KorRepr::parse(data);
    if let Ok(frame) = Frame::new_checked(data) {
        // Every accessor of the type must be in bounds once the view is checked.
        let _ = (frame.msg_type(), frame.source_module());
        match frame.msg_type() {
            msg_type::EVENT_GOSSIP => {
                let e = frame.event();
                let _ = (frame.event_count(), frame.vv_summary(), e.sequence(), e.timestamp_us());
                let _ = (e.event_type(), e.flags(), e.origin_id(), e.hop_count(), e.origin_seq(), e.payload());
            }
            msg_type::EVENT_ACK => {
                for i in 0..frame.ack_count() as usize {
                    let _ = frame.ack_entry(i);
                }
            }
            msg_type::EVENT_REQUEST => {
                let _ = (frame.target_origin(), frame.reserved(), frame.from_seq(), frame.to_seq());
            }
            msg_type::VV_SYNC => {
                let _ = (frame.lo(), frame.hi());
                for i in 0..frame.sync_count() as usize {
                    let _ = frame.sync_entry(i);
                }
            }
            _ => {}
        }
    } else {
        assert!(parsed.is_err(), "KorRepr::parse accepts a frame Frame::new_checked rejects");
    }
    if let Ok(repr) = parsed {
        let (buf, len) = repr.to_bytes();
        assert_eq!(&buf[..len], data, "a valid frame must re-encode to exactly its bytes");
        assert_eq!(repr.buffer_len(), data.len());
    }
});
