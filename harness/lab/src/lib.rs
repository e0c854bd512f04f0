//! The lab: builds images, boots clusters on isolated Docker networks, captures every datagram,
//! drives nodes through the control protocol and a fake peer, runs the scenario catalogue,
//! hands captures to the checkers and writes reports.
pub mod capture;
pub mod certify;
pub mod checks;
pub mod cluster;
pub mod control;
pub mod docker;
pub mod fakepeer;
pub mod faults;
pub mod images;
pub mod matrix;
pub mod pcapfilter;
pub mod profile;
pub mod race;
pub mod report;
pub mod run;
pub mod scenario;
pub mod vectors;
pub mod verdict;
pub mod workload;
