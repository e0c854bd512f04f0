//! The protocol core: pure state machines with time passed in and datagrams out (no sockets).
pub mod digest;
pub mod kor;
pub mod node;
pub mod roj;

pub use node::{Node, NodeConfig, Now, Output, Snapshot};
