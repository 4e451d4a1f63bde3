#!/usr/bin/env bash
# Builds the wheelhouse the grading image installs from (the image build has no network):
# every Python dependency of the kit as a binary wheel for the IMAGE's Python, plus a wheel of
# the kit itself (CONTAINERS.md "Build").
#
#   bash scripts/build-wheelhouse.sh [--no-torch] [--out DIR]
#
#   DIR/base/    the kit's dependencies (pyproject.toml [project] dependencies)
#   DIR/torch/   torch==2.14.1 torchvision==0.29.1 safetensors and what they pull in (~2.9 GB)
#   DIR/kit/     dl_autograder_kit-*.whl, rebuilt on every run (pip wheel . --no-deps)
#
#   WHEELHOUSE_PYTHON_VERSION  the image's Python (default 3.11: Debian bookworm's)
#   PYTHON                     the host Python running pip (default .venv/bin/python, python3)
#
# DIR defaults to build/wheelhouse (gitignored).  Each set is downloaded once: a stamp file
# records the requirements and flags it was made for, and a rerun with the same ones only
# rebuilds the kit wheel (a few seconds).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$HERE/build/wheelhouse"
WITH_TORCH="${WITH_TORCH:-1}"
while [ $# -gt 0 ]; do
    case "$1" in
        --no-torch) WITH_TORCH=0 ;;
        --with-torch) WITH_TORCH=1 ;;
        --out) OUT="$2"; shift ;;
        *) echo "usage: $0 [--no-torch] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done
PYV="${WHEELHOUSE_PYTHON_VERSION:-3.11}"
ABI="cp${PYV//./}"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$HERE/.venv/bin/python" ]; then PYTHON="$HERE/.venv/bin/python"; else PYTHON=python3; fi
fi
# pip does not widen an explicit manylinux_2_28 to the older glibc tags it implies (torch's
# nvidia-cudnn-cu13 wheel is manylinux_2_27), so name every tag from 2_17 (manylinux2014) to
# 2_28; the image's glibc (bookworm: 2.36) runs them all.
PLATFORM_FLAGS=(--only-binary=:all: --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64)
for minor in 27 26 25 24 23 22 21 20 19 18 17; do
    PLATFORM_FLAGS+=(--platform "manylinux_2_${minor}_x86_64")
done
PLATFORM_FLAGS+=(--python-version "$PYV" --implementation cp --abi "$ABI")

# The requirement sets, read from pyproject.toml so they never drift from the kit.
read_reqs() {  # $1: "base" or an optional-dependency group
    "$PYTHON" - "$HERE/pyproject.toml" "$1" <<'EOF'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
reqs = project["dependencies"] if sys.argv[2] == "base" else project["optional-dependencies"][sys.argv[2]]
print("\n".join(reqs))
EOF
}

download_set() {  # $1: name, then requirements
    local name="$1"; shift
    local dir="$OUT/$name"
    local stamp_text
    stamp_text="$(printf '%s\n' "$@" "${PLATFORM_FLAGS[@]}")"
    if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$stamp_text" ]; then
        echo "wheelhouse/$name: up to date ($(du -sh "$dir" | cut -f1))"
        return 0
    fi
    mkdir -p "$dir"
    rm -f "$dir/.stamp"
    local t0=$SECONDS
    echo "wheelhouse/$name: pip download $*"
    # (this machine's pip.conf names local indexes that lack most projects: hide that noise)
    "$PYTHON" -m pip download --quiet --disable-pip-version-check "${PLATFORM_FLAGS[@]}" \
        -d "$dir" "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    printf '%s' "$stamp_text" > "$dir/.stamp"
    echo "wheelhouse/$name: $(ls "$dir"/*.whl | wc -l) wheels, $(du -sh "$dir" | cut -f1), $((SECONDS - t0)) s"
}

mapfile -t BASE < <(read_reqs base)
download_set base "${BASE[@]}"
if [ "$WITH_TORCH" = 1 ]; then
    mapfile -t TORCH < <(read_reqs torch)
    download_set torch "${TORCH[@]}"
fi

# The kit itself: always rebuilt (its code changes), no dependencies (they are above).
rm -rf "$OUT/kit"
mkdir -p "$OUT/kit"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# Build from a clean copy so the checkout gets no build/ or egg-info droppings.
tar -C "$HERE" --exclude=__pycache__ -cf - pyproject.toml README.md autograder | tar -C "$WORK" -xf -
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$OUT/kit" "$WORK" \
    >"$WORK.log" 2>&1 || { cat "$WORK.log" >&2; rm -f "$WORK.log"; exit 1; }
rm -f "$WORK.log"
echo "wheelhouse/kit: $(basename "$OUT"/kit/*.whl)"
