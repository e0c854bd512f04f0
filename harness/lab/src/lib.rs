//! The lab: builds images, boots clusters on isolated Docker networks, captures, drives nodes,
//! runs the scenario catalogue and writes reports.
