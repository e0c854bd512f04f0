//! Wire codecs owned by this node: EK-ROJ JSON, EK-KOR binary frames and the control protocol.
pub mod control;
pub mod kor_frame;
pub mod roj_json;
