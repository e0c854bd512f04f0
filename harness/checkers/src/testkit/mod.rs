//! Test and benchmark support: a capture writer producing real pcaps, message encoders, and a
//! small executable model of both protocols that generates valid executions (and, on request,
//! executions with one injected violation).

pub mod capture;
pub mod encode;
pub mod model;
pub mod script;
