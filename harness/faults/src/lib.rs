//! Faults (the nemesis): a fault vocabulary, seeded schedules, and backends that apply them
//! (netem where the kernel has it, an NFQUEUE/nftables engine where not).
