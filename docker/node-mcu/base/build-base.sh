#!/usr/bin/env bash
# Builds the userland base image for the emulated-MCU node: Debian bookworm minbase with
# qemu-system-arm and iproute2, imported into Docker (there is no registry to pull a base from).
# The tag is a hash of this script, so a changed package list gives a new tag and an unchanged one
# is never rebuilt. Prints the tag on stdout.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
hash="$(sha256sum "$here/build-base.sh" | cut -c1-12)"
tag="ekconform/base-qemu:$hash"
mirror="${EKC_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
packages="qemu-system-arm,iproute2"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "build-base: debootstrap is not installed" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "build-base: debootstrap needs root" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "build-base: debootstrap bookworm minbase + $packages (a few minutes)" >&2
debootstrap --variant=minbase --include="$packages" bookworm "$work/rootfs" "$mirror" >&2
# Trim what a container never needs: package caches and documentation.
rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/* \
       "$work"/rootfs/usr/share/doc "$work"/rootfs/usr/share/man "$work"/rootfs/usr/share/locale
test -x "$work/rootfs/usr/bin/qemu-system-arm" || { echo "build-base: qemu-system-arm missing in rootfs" >&2; exit 1; }
tar -C "$work/rootfs" -c . | docker import \
  --change 'LABEL io.ekconform.managed=true' \
  --change 'LABEL io.ekconform.base=qemu' - "$tag" >&2
echo "$tag"
