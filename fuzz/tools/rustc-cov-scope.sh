#!/usr/bin/env bash
# RUSTC_WRAPPER of the cargo-fuzz builds (tools/fuzz.sh sets it): the crates named in
# EKC_FUZZ_UNCOVERED are compiled without sanitizer-coverage counters. Sanitizers stay on for them,
# and every fuzz target checks exactly what it checked before; only the coverage feedback is scoped.
#
# Why: after every execution libFuzzer scans and clears every coverage counter of the binary. The
# JSON Schema validator the oracle uses, with its dependency tree (regex engines, big numbers, URI
# and e-mail parsers), was 97% of the roughly 150,000 counters of an EK-ROJ target, mostly schema and
# regex compilation code that runs once at start-up. The scan alone capped such a target at about
# 43,000 exec/s even when it did nothing (README.md, "Coverage scope"). The generic validation code
# of the validator is instantiated in the oracle's crate and keeps its counters.
#
# A RUSTC_WRAPPER set before fuzz.sh ran (e.g. a compiler cache) is kept as EKC_FUZZ_INNER_WRAPPER.
rustc=$1
shift
crate=
prev=
sancov=0
for arg in "$@"; do
    [[ $prev == --crate-name ]] && crate=$arg
    [[ $arg == *sancov-module* ]] && sancov=1
    prev=$arg
done
if ((sancov)) && [[ -n $crate && " ${EKC_FUZZ_UNCOVERED:-} " == *" $crate "* ]]; then
    set -- "$@" -Cllvm-args=-sanitizer-coverage-level=0
fi
exec ${EKC_FUZZ_INNER_WRAPPER:+"$EKC_FUZZ_INNER_WRAPPER"} "$rustc" "$@"
