//! Checkers: from a capture (pcap/pcapng) to a trace of protocol events, and from a trace to
//! verdicts with evidence (clause, frame numbers, nodes).
