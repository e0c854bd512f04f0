#!/usr/bin/env bash
# Installs what building and testing ekconform needs on a Debian bookworm machine with Rust and
# Docker (the project's machine kind). Idempotent: cheap when everything is present.
set -euo pipefail

APT_PACKAGES=(
  golang-go golang-github-hashicorp-mdns-dev          # Go reference node (offline GOPATH build)
  gcc-arm-none-eabi libnewlib-arm-none-eabi           # C core size check and the MCU firmware
  libjsmn-dev libcmocka-dev clang llvm lld            # C node: JSON tokenizer, unit tests, fuzzing
  qemu-system-arm                                     # the emulated Cortex-M4 node
  tshark tcpdump                                      # benchmarks against tshark; capture tooling
  debootstrap                                         # base image for containers that need a userland
  iproute2 nftables iptables jq
  file binutils                                       # Rust node image: static-link check, strip
  chromium                                            # the HTML report's headless render check
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export PATH="$HOME/.cargo/bin:$PATH"
command -v just >/dev/null 2>&1 || cargo install --locked --quiet just
command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked --quiet cargo-nextest
# vectors/check_schemas.py needs the referencing Registry API (jsonschema >= 4.18); Debian's
# python3-jsonschema is older, and a Debian system Python refuses plain pip (PEP 668).
python3 -c 'import jsonschema, referencing' 2>/dev/null \
  || python3 -m pip install --quiet 'jsonschema>=4.18' 2>/dev/null \
  || python3 -m pip install --quiet --break-system-packages 'jsonschema>=4.18'
# Fuzzing (fuzz/, just fuzz ...): cargo-fuzz drives libFuzzer on the nightly toolchain; nightly is
# used for fuzzing only.
rustup toolchain list 2>/dev/null | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked --quiet cargo-fuzz
