//! (model: see below)
