#!/usr/bin/env bash
# Builds ekconform/node-mcu:dev: the cached QEMU base image, the firmware (budgets checked) and the
# static config tool, then the image itself.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
fw="$root/reference-impls/c/port/mcu"
base="$("$root/docker/node-mcu/base/build-base.sh")"
make -s -C "$fw" >/dev/null
make -s -C "$fw" mkcfg >/dev/null
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$fw/build/ekc-mcu.elf" "$fw/build/mkcfg" "$root/docker/node-mcu/entrypoint.sh" "$root/docker/node-mcu/Dockerfile" "$ctx/"
docker build -q --build-arg BASE="$base" --label io.ekconform.managed=true -t ekconform/node-mcu:dev "$ctx" >/dev/null
echo "ekconform/node-mcu:dev (base $base)"
