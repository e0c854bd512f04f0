//! Rust reference node for EK-ROJ v1 and EK-KOR v2 (docs/spec/): an independent implementation
//! under test, with its own codecs (`codec`), a sans-I/O protocol core (`core`) and a thin tokio
//! shell (`shell`) for UDP, mDNS, the control port, configuration and persistence.
pub mod codec;
pub mod core;
pub mod shell;
pub mod testkit;
