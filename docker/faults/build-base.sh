#!/usr/bin/env bash
# Builds (once) the userland base of the fault helper image: a debootstrap minbase bookworm rootfs with
# iproute2 (tc), nftables and iptables, imported with `docker import` (no registry is needed).
# The tag and the io.ekconform.recipe label carry a hash of this script, so the base is rebuilt only
# when the recipe changes. Prints the image reference on stdout.
set -euo pipefail

PACKAGES="iproute2,nftables,iptables,ca-certificates"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
HASH="$(sha256sum "$0" | cut -c1-12)"
IMAGE="ekconform/base-netutils:${HASH}"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "$IMAGE"
  exit 0
fi

command -v debootstrap >/dev/null || { echo "build-base: debootstrap is not installed (tools/setup.sh installs it)" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "build-base: debootstrap minbase bookworm with ${PACKAGES} (a few minutes, once)" >&2
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
  || { tail -n 30 "$WORK/debootstrap.log" >&2; echo "build-base: debootstrap failed" >&2; exit 1; }
# Keep the image small and reproducible-ish: no apt lists, caches or docs.
rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"* \
       "$WORK/rootfs/usr/share/doc" "$WORK/rootfs/usr/share/man" "$WORK/rootfs/usr/share/locale"
tar -C "$WORK/rootfs" -c . | docker import \
  --change "LABEL io.ekconform.managed=true" \
  --change "LABEL io.ekconform.recipe=${HASH}" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  - "$IMAGE" >/dev/null
echo "$IMAGE"
