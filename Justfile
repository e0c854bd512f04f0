# ekconform recipes. README's quick start runs these through ./run, which installs prerequisites.
# Each section belongs to one part of the suite; `test` runs every test in the repository.

set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments

default:
    @just --list

# ---- everything --------------------------------------------------------------------------------

# Every test in the repository; CI runs this through .ci/run. Each suite runs even when an earlier
# one failed, so one run shows everything that is broken; each runner prints its own counts, and the
# last line counts suites. Per-crate recipes (test-oracle, test-checkers, test-report, test-faults,
# test-lab) are for development: `test-rust` already runs every crate's tests once.
test:
    #!/usr/bin/env bash
    set -uo pipefail
    suites=(
      test-schemas test-vectors-fresh test-dissector   # specs' data and tools
      test-spec-coverage                               # every clause judged, not observable or open
      test-node-c test-node-go test-firmware           # C core + POSIX node, Go node, MCU firmware
      test-interop-local                               # Rust, Go and C nodes in one local cluster
      images                                           # every image, rebuilt only when its inputs changed
      test-rust                                        # every Rust crate (lab/faults tests use Docker and netns)
      test-image-node-rust test-image-node-go test-image-node-c test-image-node-mcu
      test-firmware-interop                            # MCU + Go + C containers, mDNS only
      test-lab-e2e                                     # short matrix on Docker, interruption and gc
      test-report-render                               # HTML report in headless Chromium
      test-fuzz-smoke                                  # every fuzz target builds and runs; findings stay fixed
      test-mutants                                     # mutation catalogue well-formed, every patch applies
    )
    failed=()
    for s in "${suites[@]}"; do
      echo "==== just $s"
      start=$SECONDS
      if just "$s"; then
        echo "==== $s: ok ($((SECONDS - start)) s)"
      else
        echo "==== $s: FAILED ($((SECONDS - start)) s)"
        failed+=("$s")
      fi
    done
    echo "==== failed suites: ${failed[*]:-none}"
    echo "suites: $(( ${#suites[@]} - ${#failed[@]} )) passed, ${#failed[@]} failed"
    [ ${#failed[@]} -eq 0 ]

# The committed golden vectors are exactly what vectors/generate.py writes.
test-vectors-fresh:
    #!/usr/bin/env bash
    set -euo pipefail
    out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
    EKC_VECTORS_OUT="$out" python3 vectors/generate.py >/dev/null
    for f in "$out"/*.json; do
      cmp -s "$f" "vectors/$(basename "$f")" || { echo "vectors/$(basename "$f") differs from vectors/generate.py output: run 'just vectors' and commit" >&2; exit 1; }
    done
    echo "vectors: $(ls "$out" | wc -l) files match vectors/generate.py"

# A clause is judged when a check cites it and a mutation test proves it (harness/coverage/README.md).
# Every clause judged, not observable, a definition or open; coverage.md and README counts are fresh.
test-spec-coverage:
    cargo nextest run -p ekc-coverage --no-fail-fast
    cargo run -q -p ekc-coverage -- --check

# Regenerate docs/spec/coverage.md and the README's coverage counts; commit the result.
spec-coverage:
    cargo run -q -p ekc-coverage

# The main job: build images, run the default conformance matrix on local Docker, write reports/.
# Extra arguments go to `ekconform run` (e.g. `just conformance --repeat 3 -s single-commit`).
conformance *args: images
    cargo run -q -p ekconform -- run --require-all "$@"

# Reports land in target/criterion/.
# Oracle codec benchmarks (criterion): EK-KOR decode (>= 20M frames/s), EK-ROJ judge (>= 1M msgs/s).
bench:
    cargo bench -p ekc-oracle --bench codecs

# ---- harness (Rust) ----------------------------------------------------------------------------

# Unit, property, snapshot and golden-vector tests of every Rust crate in the workspace.
test-rust:
    cargo nextest run --workspace --no-fail-fast

# Schemas are valid draft-7 with resolving $refs, and EK-ROJ vectors agree (Python jsonschema).
test-schemas:
    python3 vectors/check_schemas.py

# The oracle alone: unit, property, snapshot and golden-vector tests of ekc-oracle.
test-oracle:
    cargo nextest run -p ekc-oracle --no-fail-fast

# Regenerate the golden vectors (vectors/*.json) from vectors/generate.py; commit the result.
vectors:
    python3 vectors/generate.py

# ---- faults (the nemesis: harness/faults, docker/faults) ----------------------------------------

# The fault helper image ekconform/faults:dev: debootstrap bookworm base with tc/nft/iptables
# (ekconform/base-netutils:<hash>, built once) plus the static ekc-nemesis engine.
image-faults:
    docker/faults/build-image.sh

# Every fault kind applied in network namespaces and through helper containers, measured from
# captures (needs root and Docker; fails with the reason otherwise).
test-faults: image-faults
    cargo nextest run -p ekc-faults --no-fail-fast

# Fault engine accuracy (loss, delay), no-op overhead (latency, CPU) and apply/remove time (root).
bench-faults:
    cargo bench -p ekc-faults --bench faults

# ---- checkers (harness/checkers: capture -> trace -> verdicts) ---------------------------------

# Checker tests: 2000 model executions must pass, one mutation per judged clause must be caught
# with its frames, ingest edge cases, convergence dumps, report snapshots.
test-checkers:
    cargo nextest run -p ekc-capture -p ekc-checkers --no-fail-fast

# End-to-end `ekconform check` throughput (target >= 1M packets/s, RSS < 200 MB) on a generated
# capture of 1,000,000 mixed EK-ROJ/EK-KOR packets (.cache/bench-check/), ratio against tshark.
bench-check packets="1000000" runs="3":
    harness/checkers/bench/bench-check.sh {{packets}} {{runs}}

# Ingest bounds: `ekconform diff` time on two 5 MB captures that differ everywhere (target < 5 s)
# and peak RSS of `ekconform check` on a 500 MB capture of incomplete IPv4 fragment sets.
bench-ingest mb="500":
    harness/checkers/bench/bench-ingest.sh {{mb}}

# ---- tools -------------------------------------------------------------------------------------

# The Wireshark dissector (tools/wireshark/ekconform.lua) decodes EK-ROJ/EK-KOR/control in tshark.
test-dissector *pcap:
    python3 tools/wireshark/test_dissector.py {{pcap}}

# ---- firmware (emulated STM32G474-class MCU node) -----------------------------------------------

# Build the firmware for QEMU mps2-an386; fails when the STM32G474 flash/RAM budgets are exceeded.
build-firmware:
    make -C reference-impls/c/port/mcu

# Build, check budgets, boot in QEMU on a TAP in a netns: UART line, ICMP, control ping, mDNS, restart.
test-firmware:
    reference-impls/c/port/mcu/tools/test-firmware.sh

# Boot time, host CPU of QEMU and emulated idle fraction at rest and during a commit burst.
bench-firmware:
    reference-impls/c/port/mcu/tools/bench-firmware.sh

# The node image: QEMU + firmware, the MCU takes the container's IP (base image cached by hash).
image-node-mcu:
    docker/node-mcu/build.sh

# ---- reference node: Rust ----------------------------------------------------------------------

rust_node_target := env_var_or_default("CARGO_TARGET_DIR", justfile_directory() + "/target")
rust_node_triple := "x86_64-unknown-linux-gnu"
# The tag each node recipe builds; the mutation runner (reference-impls/mutants) overrides it so a
# mutant image never replaces the shared reference image.
rust_node_image := env_var_or_default("EKC_NODE_RUST_IMAGE", "ekconform/node-rust:dev")

# Build the statically linked Rust node (glibc static-pie) for the FROM-scratch image.
build-node-rust:
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target {{rust_node_triple}} -p ekc-node-rust

# The node image ekconform/node-rust:dev (FROM scratch, static binary), built offline. The build
# context is a staging folder under the target dir holding only the stripped binary and Dockerfile.
image-node-rust: build-node-rust
    rm -rf "{{rust_node_target}}/node-rust-image" && mkdir -p "{{rust_node_target}}/node-rust-image"
    strip -o "{{rust_node_target}}/node-rust-image/ekc-node-rust" "{{rust_node_target}}/{{rust_node_triple}}/release/ekc-node-rust"
    file "{{rust_node_target}}/node-rust-image/ekc-node-rust" | grep -q 'static' || { echo "ekc-node-rust is not statically linked" >&2; exit 1; }
    cp docker/node-rust/Dockerfile "{{rust_node_target}}/node-rust-image/"
    docker build -q -t "{{rust_node_image}}" --label io.ekconform.managed=true "{{rust_node_target}}/node-rust-image"

# The image on real Docker: static binary, control ping, mDNS discovery across two containers on an
# internal network, a commit between them, SIGTERM stop.
test-image-node-rust: image-node-rust
    reference-impls/rust/tools/test-image.sh

# 5-node local process cluster on loopback: commit latency p50/p99, messages per commit, idle RSS
# and CPU, gossip reach time.
bench-node-rust:
    cargo bench -p ekc-node-rust --bench cluster

# ---- reference node: Go ------------------------------------------------------------------------
# Offline GOPATH-mode build against Debian's golang-go and golang-github-hashicorp-mdns-dev: no module
# proxy, nothing vendored. bin/ (git-ignored) holds a GOPATH whose src/ekcnode links to the sources.

go_dir := justfile_directory() / "reference-impls/go"
go_node_image := env_var_or_default("EKC_NODE_GO_IMAGE", "ekconform/node-go:dev")
go_env := "GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH=" + go_dir + "/bin/gopath:/usr/share/gocode"

[private]
go-gopath:
    test -d /usr/share/gocode/src/github.com/hashicorp/mdns || { echo "Go node: Debian package golang-github-hashicorp-mdns-dev is missing (tools/setup.sh installs it)" >&2; exit 1; }
    mkdir -p "{{go_dir}}/bin/gopath/src" && ln -sfn "{{go_dir}}" "{{go_dir}}/bin/gopath/src/ekcnode"

# Build the static Go node binary reference-impls/go/bin/ekc-node-go.
build-node-go: go-gopath
    cd "{{go_dir}}/bin/gopath/src/ekcnode" && {{go_env}} CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "{{go_dir}}/bin/ekc-node-go" ./cmd/ekc-node-go

# gofmt and go vet, unit/golden/3-process tests, and the race detector over core and shell.
test-node-go: go-gopath
    cd "{{go_dir}}" && unformatted=$(gofmt -l codec core shell cmd ctlclient clustertest) && [ -z "$unformatted" ] || { echo "gofmt needed: $unformatted" >&2; exit 1; }
    cd "{{go_dir}}/bin/gopath/src/ekcnode" && {{go_env}} go vet ./...
    cd "{{go_dir}}/bin/gopath/src/ekcnode" && {{go_env}} go test -count=1 ./...
    cd "{{go_dir}}/bin/gopath/src/ekcnode" && {{go_env}} go test -count=1 -race ./core/... ./shell/... ./codec/...

# Codec/core micro-benchmarks, then a 5-node local cluster: commit latency, messages/commit, RSS, reach.
bench-node-go: build-node-go
    cd "{{go_dir}}/bin/gopath/src/ekcnode" && {{go_env}} go test -run '^$' -bench . -benchmem ./codec/ ./core/
    cd "{{go_dir}}/bin/gopath/src/ekcnode" && {{go_env}} go run ./cmd/ekc-cluster-bench -node "{{go_dir}}/bin/ekc-node-go"

# The node image ekconform/node-go:dev (FROM scratch, static binary), built offline.
image-node-go: build-node-go
    rm -rf "{{go_dir}}/bin/image" && mkdir -p "{{go_dir}}/bin/image"
    cp "{{go_dir}}/bin/ekc-node-go" docker/node-go/Dockerfile "{{go_dir}}/bin/image/"
    docker build -q -t "{{go_node_image}}" --label io.ekconform.managed=true "{{go_dir}}/bin/image"

# Image checks: control ping on 9992, and two containers discovering each other by mDNS.
test-image-node-go: image-node-go
    reference-impls/go/tools/test-image.sh

# ---- reference node: C -------------------------------------------------------------------------
# Make-based build in reference-impls/c: the sans-IO core (no malloc, no OS calls), the POSIX
# select() node, cmocka tests under ASan/UBSan, the no-allocation proof and the Cortex-M4 size check.

c_node_image := env_var_or_default("EKC_NODE_C_IMAGE", "ekconform/node-c:dev")

# Build the POSIX node and its static variant (reference-impls/c/build/ekc-node{,-static}).
build-node-c:
    make -C reference-impls/c node static

# Unit tests, golden vectors, nomalloc proof, arm-none-eabi size build, 3-process local cluster.
test-node-c:
    make -k -C reference-impls/c test

# Commit latency p50/p99 over 1000 proposals on a 5-node local cluster, messages/commit, idle RSS,
# and the core's static memory and code size on Cortex-M4.
bench-node-c:
    make -C reference-impls/c node cortex-m4
    python3 reference-impls/c/tools/bench.py reference-impls/c/build/ekc-node

# The node image ekconform/node-c:dev (FROM scratch, static binary), built offline.
image-node-c:
    make -C reference-impls/c static
    rm -rf reference-impls/c/build/image && mkdir -p reference-impls/c/build/image
    cp reference-impls/c/build/ekc-node-static reference-impls/c/build/image/ekc-node-c
    cp docker/node-c/Dockerfile reference-impls/c/build/image/
    docker build -q -t "{{c_node_image}}" --label io.ekconform.managed=true reference-impls/c/build/image

# Image checks: control ping on 9992, two containers discovering each other by mDNS, a joint commit.
test-image-node-c: image-node-c
    reference-impls/c/tools/test-image.sh

# Image checks: only NET_ADMIN + /dev/net/tun, control ping at the container IP, mDNS with the Go node, SIGTERM < 2 s.
test-image-node-mcu:
    docker/node-mcu/test-image.sh

# MCU + Go + C nodes on one bridge (mDNS only): discovered-by-all time, cross-node commits, a burst.
test-firmware-interop:
    reference-impls/c/port/mcu/tools/interop-firmware.sh

# ---- fuzzing (fuzz/: cargo-fuzz targets on nightly, Go native fuzzing; see fuzz/README.md) --------
# Targets: roj_judge kor_frame vv_lww ctl_request diff_roj diff_kor pcap_ingest c_mdns. Corpora (fuzz/corpus/)
# and findings (fuzz/artifacts/) are git-ignored; findings become vectors/fuzz-findings.json.

# Seed fuzz/corpus/<target>/ from the golden vectors (and fuzz-findings.json, control requests, mDNS packets).
fuzz-corpus:
    fuzz/tools/fuzz.sh corpus

# One cargo-fuzz target for DURATION seconds, e.g. `just fuzz diff_roj 600`.
fuzz TARGET DURATION="60":
    fuzz/tools/fuzz.sh run {{TARGET}} {{DURATION}}

# One Go native fuzz target (FuzzRojSeeded, FuzzKorSeeded, FuzzCtlSeeded) for DURATION seconds.
fuzz-go TARGET DURATION="60":
    fuzz/tools/fuzz.sh go {{TARGET}} {{DURATION}}

# Every target time-sliced (SLICE seconds each, ROUNDS rounds), then corpus merge and minimisation,
# finding minimisation, a Go cross-check of the differential corpora and a summary.
fuzz-overnight SLICE="1800" ROUNDS="4":
    fuzz/tools/fuzz.sh overnight {{SLICE}} {{ROUNDS}}

# Every parser's verdict (oracle, Rust node, C node, Go node) on each file; Go corpus files accepted.
fuzz-replay +FILES:
    fuzz/tools/fuzz.sh replay {{FILES}}

# Replays every differential corpus entry through all four parsers; fails on any disagreement.
fuzz-crosscheck:
    fuzz/tools/fuzz.sh crosscheck

# Each target for a few seconds (bounded runs), the replay tool test and the fuzz-findings vectors.
test-fuzz-smoke:
    fuzz/tools/fuzz.sh smoke
    cd fuzz && cargo test --quiet --features replay

# ---- interoperability of the reference nodes ---------------------------------------------------

# Rust, Go and C nodes as local processes in one cluster (n = 5): commits, a contended key, gossip,
# identical digests, no datagram of one implementation judged invalid by another.
test-interop-local: build-node-rust build-node-go build-node-c
    python3 reference-impls/interop/test_mixed_local.py "{{rust_node_target}}/{{rust_node_triple}}/release/ekc-node-rust" "{{go_dir}}/bin/ekc-node-go" reference-impls/c/build/ekc-node

# ---- reports (harness/report: HTML report, trace diffs, certification bundles) -------------------

# Render the static HTML report of a run directory into RUN_DIR/html/ (default: the latest run).
report RUN_DIR="reports/latest":
    cargo run --quiet -p ekconform -- report {{RUN_DIR}}

# Report crate tests: HTML report of a synthetic run, bundles and tampering, diff, ROJ-DISC-1
# judgement, trace snapshots (review changes with `cargo insta review`).
test-report:
    cargo nextest run -p ekc-report --no-fail-fast

# The report renders in headless Chromium: DOM has the matrix, failures, plots and the sequence
# chart; the screenshot is non-blank and shows the pass/fail colours (PNGs in target/report-render).
test-report-render:
    python3 harness/report/tools/render_check.py

# Report generation time for a synthetic run of the default matrix's size (12 scenarios x 11 mixes).
bench-report:
    cargo bench -p ekc-report --bench render

# ---- lab (harness/lab, docker/helper, docker/images.toml, vectors/scenarios) ---------------------

# Build every image the suite needs (nodes, helper, iptables sidecar), offline, cached by content hash.
images:
    cargo run -q -p ekconform -- images --strict

# Short matrix on real Docker (the short scenarios on the all-implementations cluster), the lab's
# unit tests, and the interruption test (SIGKILL + gc, SIGINT). Fails loudly without Docker.
test-lab: images
    docker info >/dev/null 2>&1 || { echo "test-lab: Docker is not available" >&2; exit 1; }
    cargo nextest run -p ekc-lab --no-fail-fast
    just test-lab-e2e

# The end-to-end part of test-lab: the short matrix on the all-implementations cluster, verdict
# semantics (a capture judged despite a failed step, a degenerate scenario refused), the
# emulated firmware node in mixed clusters and restarted with persistence (test-lab-mcu), then the
# interruption test (SIGKILL + gc, SIGINT). Fails loudly without Docker.
test-lab-e2e: images
    docker info >/dev/null 2>&1 || { echo "test-lab: Docker is not available" >&2; exit 1; }
    cargo run -q -p ekconform -- run --short --require-all --mix rust+go+c --reports target/lab-reports
    EKC="${CARGO_TARGET_DIR:-target}/debug/ekconform" harness/lab/tests/faults.sh
    EKC="${CARGO_TARGET_DIR:-target}/debug/ekconform" harness/lab/tests/verdict.sh
    just test-lab-mcu
    EKC="${CARGO_TARGET_DIR:-target}/debug/ekconform" harness/lab/tests/interrupt.sh

# The mcu node (QEMU) in the lab: short scenarios on rust+go+c+mcu and go+mcu, restart with
# persistence, exactly NET_ADMIN + /dev/net/tun granted, the emulator reported, not-applicable
# for an unclaimed capability, over-asking images refused.
test-lab-mcu: images
    cargo build -q -p ekconform
    EKC="${CARGO_TARGET_DIR:-target}/debug/ekconform" harness/lab/tests/mcu.sh

# Wall time of one 5-node mixed scenario (boot, discover, 10 commits, teardown) and of the no-op
# image step; repeat with `just bench-lab 5`.
bench-lab n="3": images
    for i in $(seq 1 {{n}}); do /usr/bin/time -f "image step (no-op): %e s" cargo run -q -p ekconform -- images >/dev/null; done
    cargo run -q -p ekconform -- run -s concurrent-commits --mix rust+go+c --repeat {{n}} -j 1 --reports target/lab-bench
    jq -r '.cases[] | "\(.id) repeat \(.repeat): \(.verdict) \(.seconds) s"' target/lab-bench/latest/results.json

# Flaky cases found by measurement: the default matrix N times on the reference nodes, then each
# case's passes/runs, lowest first. Flaky = any run of a case that did not pass (the reference nodes
# are correct: every non-pass is the suite's fault). Extra arguments go to `ekconform run`
# (e.g. `just flake-hunt 10 -s loss-commits`). Exits 1 when a case is flaky.
flake-hunt N="10" *args: images
    #!/usr/bin/env bash
    set -uo pipefail
    out=target/flake-hunt
    cargo run -q -p ekconform -- run --require-all --repeat "{{N}}" --reports "$out" "${@:2}"
    echo "exit status of run: $? (1 = a case failed, 2 = error or nothing judged)"
    jq -r '.pass_rates | to_entries | sort_by(.value.pass / .value.runs) | .[] | "\(.value.pass)/\(.value.runs)\t\(.key)"' "$out/latest/results.json" | column -t -s $'\t'
    flaky=$(jq '[.pass_rates[] | select(.pass < .runs)] | length' "$out/latest/results.json")
    runs=$(jq '[.pass_rates[].runs] | add' "$out/latest/results.json")
    echo "flake-hunt: $runs case runs, $flaky flaky case(s) (any non-pass on the reference nodes); report $out/latest/matrix.md"
    [ "$flaky" -eq 0 ]

# ---- mutation catalogue of the reference nodes (reference-impls/mutants) ------------------------

# Every mutant patch built into an image and judged with `certify` on its clause's scenarios; the
# unmutated nodes alongside (3 runs per case). Prints killed/survived per mutant and the kill ratio;
# results in reports/mutants/results.{json,md}. Extra arguments go to the runner (e.g. `--only ID`,
# `--node go`, `--repeat 3`, `--baseline-repeat 0`).
mutants *args: images
    cargo build -q -p ekconform
    python3 reference-impls/mutants/mutants.py run "$@"

# The mutation catalogue is well-formed and every patch applies to the current tree (no builds),
# and the runner refuses broken catalogues and classifies certify outcomes right.
test-mutants:
    python3 reference-impls/mutants/mutants.py check
    cd reference-impls/mutants && python3 -m unittest -q test_mutants

# Remove whatever crashed runs left behind.
lab-gc:
    cargo run -q -p ekconform -- gc
