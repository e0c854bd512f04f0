#!/usr/bin/env bash
# Builds the fault helper image ekconform/faults:dev: the userland base (build-base.sh, cached by a
# hash of its recipe), plus a statically linked ekc-nemesis. Rebuilt only when the binary or the base
# changes (io.ekconform.content-hash label). Prints the image name.
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE="${EKC_FAULTS_IMAGE:-ekconform/faults:dev}"
BASE="$(docker/faults/build-base.sh)"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
# Static glibc: the engine resolves no names (no NSS), so a static link is safe and the binary does
# not depend on the base's libc version.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --quiet --release --locked -p ekc-faults --bin ekc-nemesis --target x86_64-unknown-linux-gnu >&2
BIN="$TARGET_DIR/x86_64-unknown-linux-gnu/release/ekc-nemesis"
file "$BIN" 2>/dev/null | grep -q "static" || ldd "$BIN" 2>&1 | grep -q "not a dynamic" \
  || { echo "build-image: $BIN is not statically linked" >&2; exit 1; }

HASH="$( (sha256sum "$BIN" docker/faults/Dockerfile | cut -c1-64; echo "$BASE") | sha256sum | cut -c1-16)"
if [ "$(docker image inspect -f '{{ index .Config.Labels "io.ekconform.content-hash" }}' "$IMAGE" 2>/dev/null || true)" = "$HASH" ]; then
  echo "$IMAGE"
  exit 0
fi
CTX="$(mktemp -d)"
trap 'rm -rf "$CTX"' EXIT
cp "$BIN" docker/faults/Dockerfile "$CTX/"
docker build --quiet --build-arg "BASE=$BASE" --label "io.ekconform.content-hash=$HASH" -t "$IMAGE" "$CTX" >/dev/null
echo "$IMAGE"
