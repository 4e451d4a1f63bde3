#!/usr/bin/env bash
# Builds the grading image's base without a registry: a Debian bookworm minbase root
# filesystem (debootstrap) with python3, python3-venv and python3-pip, imported into podman
# as localhost/grader-base:bookworm (CONTAINERS.md "A base image without a registry").
#
#   bash scripts/build-base-image.sh [--force]
#
#   GRADER_BASE_IMAGE   the tag (default localhost/grader-base:bookworm)
#   DEBIAN_MIRROR       the mirror debootstrap uses (default http://deb.debian.org/debian)
#   PODMAN              the podman command (default "podman --runtime runc --cgroup-manager cgroupfs")
#
# Idempotent: does nothing when the image exists (--force rebuilds it).  Needs root,
# debootstrap and podman (scripts/install-system-deps.sh installs them).  ~45 s + ~8 s here.
set -euo pipefail
TAG="${GRADER_BASE_IMAGE:-localhost/grader-base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PODMAN="${PODMAN:-podman --runtime runc --cgroup-manager cgroupfs}"
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

if [ "$FORCE" = 0 ] && $PODMAN image exists "$TAG" 2>/dev/null; then
    echo "base image $TAG exists; nothing to do (--force rebuilds it)"
    exit 0
fi
for tool in debootstrap podman; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "build-base-image: $tool is not installed (run scripts/install-system-deps.sh as root)" >&2
        exit 2; }
done
if [ "$(id -u)" != 0 ]; then
    echo "build-base-image: debootstrap needs root" >&2
    exit 2
fi

ROOTFS="$(mktemp -d /var/tmp/grader-base-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT
start=$(date +%s)
echo "debootstrap bookworm minbase into $ROOTFS (python3 python3-venv python3-pip)"
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip \
    bookworm "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 || {
    tail -30 "$ROOTFS.log" >&2; rm -f "$ROOTFS.log"; exit 1; }
rm -f "$ROOTFS.log"
# A smaller image: no package lists or apt caches (the grading image never runs apt).
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
echo "podman import -> $TAG"
tar -C "$ROOTFS" -c . | $PODMAN import --change 'CMD ["/bin/bash"]' - "$TAG" >/dev/null
echo "base image $TAG built in $(( $(date +%s) - start )) s"
