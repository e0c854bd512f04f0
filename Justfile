# ekconform recipes. README's quick start runs these through ./run, which installs prerequisites.
# Each section belongs to one part of the suite; `test` runs every test in the repository.

set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments

default:
    @just --list

# ---- everything --------------------------------------------------------------------------------

# Every test in the repository (CI runs this through .ci/run).
test: test-rust test-schemas test-dissector

# The main job: build images, run the default conformance matrix on local Docker, write reports/.
conformance:
    @echo "ekconform: the lab (docker matrix) is not built yet; nothing was run, nothing passed." >&2
    @exit 1

# Criterion benchmarks of the oracle codecs (and, as they land, the checkers and nodes).
bench:
    cargo bench -p ekc-oracle

# ---- harness (Rust) ----------------------------------------------------------------------------

# Unit, property, snapshot and golden-vector tests of every Rust crate in the workspace.
test-rust:
    cargo nextest run --workspace --no-fail-fast

# The JSON Schemas validate under an independent draft-7 validator (Python jsonschema).
test-schemas:
    python3 vectors/check_schemas.py

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
