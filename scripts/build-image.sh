#!/usr/bin/env bash
# Builds the grading image from Dockerfile with podman, with no network (CONTAINERS.md):
#   1. the base image (scripts/build-base-image.sh; skipped when it exists)
#   2. the wheelhouse (scripts/build-wheelhouse.sh; cached under build/wheelhouse)
#   3. the build context (python -m autograder build --context build/image-context)
#   4. podman build --network none
#
#   bash scripts/build-image.sh [--no-torch] [--tag TAG] [--assignment TOML]
#
#   AUTOGRADER_IMAGE  the tag (default localhost/dlkit-grader:latest; --tag wins)
#   BASE_IMAGE        passed as --build-arg BASE_IMAGE (default localhost/grader-base:bookworm)
# Prints the image ID, its size and the build time.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAG="${AUTOGRADER_IMAGE:-localhost/dlkit-grader:latest}"
WITH_TORCH=1
ASSIGNMENT=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-torch) WITH_TORCH=0 ;;
        --tag) TAG="$2"; shift ;;
        --assignment) ASSIGNMENT=(--assignment "$2"); shift ;;
        *) echo "usage: $0 [--no-torch] [--tag TAG] [--assignment TOML]" >&2; exit 2 ;;
    esac
    shift
done
if [ -x "$HERE/.venv/bin/python" ]; then PY="$HERE/.venv/bin/python"; else PY=python3; fi
PODMAN="${PODMAN:-podman --runtime runc --cgroup-manager cgroupfs}"
BASE="${BASE_IMAGE:-localhost/grader-base:bookworm}"
CTX="$HERE/build/image-context"
t0=$SECONDS

if [ "$BASE" = "localhost/grader-base:bookworm" ]; then
    bash "$HERE/scripts/build-base-image.sh"
fi
t1=$SECONDS
if [ "$WITH_TORCH" = 1 ]; then
    PYTHON="$PY" bash "$HERE/scripts/build-wheelhouse.sh"
    TORCH_FLAG=()
else
    PYTHON="$PY" bash "$HERE/scripts/build-wheelhouse.sh" --no-torch
    TORCH_FLAG=(--no-torch)
fi
t2=$SECONDS
(cd "$HERE" && "$PY" -m autograder "${ASSIGNMENT[@]}" build --out "$HERE/build" \
    --context "$CTX" "${TORCH_FLAG[@]}")
t3=$SECONDS
OLD_ID="$($PODMAN image inspect --format '{{.Id}}' "$TAG" 2>/dev/null || true)"
echo "podman build -> $TAG (WITH_TORCH=$WITH_TORCH, BASE_IMAGE=$BASE)"
$PODMAN build --network none --build-arg "BASE_IMAGE=$BASE" --build-arg "WITH_TORCH=$WITH_TORCH" \
    -t "$TAG" -f "$CTX/Dockerfile" "$CTX"
t4=$SECONDS
ID="$($PODMAN image inspect --format '{{.Id}}' "$TAG")"
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$ID" ] \
        && [ -z "$($PODMAN image inspect --format '{{join .RepoTags " "}}' "$OLD_ID" 2>/dev/null)" ]; then
    # the previous build of this tag, now untagged: drop it (its shared layers stay).  Never
    # one that still carries another tag: `podman rmi ID` removes every tag of that image
    # (building a second tag of the same image removed localhost/dlkit-grader:latest)
    $PODMAN rmi "$OLD_ID" >/dev/null 2>&1 || true
fi
SIZE="$($PODMAN image inspect --format '{{.Size}}' "$TAG")"
echo "image $TAG"
echo "  id    $ID"
echo "  size  $((SIZE / 1000000)) MB"
echo "  time  base $((t1 - t0)) s, wheelhouse $((t2 - t1)) s, context $((t3 - t2)) s, podman build $((t4 - t3)) s, total $((t4 - t0)) s"
