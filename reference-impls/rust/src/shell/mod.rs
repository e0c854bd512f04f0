//! The I/O shell around the core: configuration, sockets, mDNS, the control port, persistence, logs.
