//! Faults (the nemesis): a fault vocabulary, seeded schedules, and backends that apply them
//! (netem where the kernel has it, an NFQUEUE/nftables engine where not), plus capture-based
//! verification of what was actually injected.
//!
//! Layers: [`model`] (what a scenario declares) -> [`schedule`] (when) -> [`nemesis`] (executes,
//! records) -> [`client`] (starts an engine in a node's namespace) -> [`engine`] (in-namespace
//! daemon) -> [`rules`] (kernel rule plans) and [`impair`] (per-packet decisions). [`measure`]
//! checks the effect from pcaps; [`probe`] sends numbered probe datagrams; [`testbed`] builds
//! throwaway network namespaces for tests and benchmarks.

pub mod cli_run;
pub mod client;
pub mod engine;
pub mod impair;
pub mod measure;
pub mod model;
pub mod nemesis;
pub mod probe;
pub mod rules;
pub mod schedule;
pub mod testbed;

pub use client::{DockerSidecarLauncher, EngineHandle, Launcher, NetnsLauncher};
pub use engine::BackendChoice;
pub use model::{Direction, Distribution, Fault, Impairment, LossModel, Target};
pub use nemesis::{AppliedFault, Nemesis, NodeControl, NodeNet};
pub use rules::Backend;
pub use schedule::{Action, Schedule, ScheduledFault};

/// Errors of the nemesis, each saying what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The requested backend cannot run on this kernel (e.g. netem forced without sch_netem).
    #[error("backend unavailable: {0}")]
    Backend(String),
    /// The engine could not be started or talked to.
    #[error("fault engine: {0}")]
    Engine(String),
    /// The kernel refused a rule.
    #[error("could not apply the fault: {0}")]
    Apply(String),
    /// The schedule is invalid for this cluster.
    #[error("invalid fault schedule: {0}")]
    Schedule(String),
    #[error("capture: {0}")]
    Capture(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
