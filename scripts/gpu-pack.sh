#!/usr/bin/env bash
# Prepares what scripts/gpu-check.sh needs on a GPU machine WITHOUT network access, into
# .gpu-pack/ (gitignored; copy it along with the working tree):
#
#   bash scripts/gpu-pack.sh [--python-version 3.12]
#
#   .gpu-pack/debs/     bubblewrap's .deb (unpacked there with dpkg -x, no installation)
#   .gpu-pack/wheels/   the kit's Python dependencies that a GPU machine with torch,
#                       torchvision, safetensors, scikit-learn and pytest may lack, as wheels
#                       for the GPU machine's Python (default 3.12); numpy and scipy are left
#                       out (scikit-learn brings them, and a second numpy would shadow torch's)
#   .gpu-pack/models/   the reference's trained digits models (no training on the GPU machine)
#
# Needs network access HERE (apt-get download, pip download); ~25 MB in all.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PACK="$HERE/.gpu-pack"
PYV=3.12
while [ $# -gt 0 ]; do
    case "$1" in
        --python-version) PYV="$2"; shift ;;
        *) echo "usage: $0 [--python-version X.Y]" >&2; exit 2 ;;
    esac
    shift
done
if [ -x "$HERE/.venv/bin/python" ]; then PY="$HERE/.venv/bin/python"; else PY=python3; fi
mkdir -p "$PACK/debs" "$PACK/wheels" "$PACK/models"

# bubblewrap: the .deb of this machine's distribution (its only libraries, libc and libcap2 /
# libselinux1, are on any Debian or Ubuntu)
(cd "$PACK/debs" && rm -f bubblewrap_*.deb && apt-get download bubblewrap)

# the kit's [project] dependencies, minus what the GPU machine is assumed to have
REQS=$("$PY" - "$HERE/pyproject.toml" <<'PYEOF'
import re, sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
skip = {"numpy", "scipy", "scikit-learn", "pytest"}
print(" ".join(d for d in deps if re.split(r"[<>=!~ \[]", d)[0].lower() not in skip))
PYEOF
)
PLAT=(--only-binary=:all: --python-version "$PYV" --implementation cp)
for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    PLAT+=(--platform "$tag")
done
# shellcheck disable=SC2086
"$PY" -m pip download -q "${PLAT[@]}" -d "$PACK/wheels" $REQS
rm -f "$PACK"/wheels/numpy-*.whl "$PACK"/wheels/scipy-*.whl

# the reference models (trained here once, cached under reports/models)
"$PY" - "$PACK/models" <<'PYEOF'
import shutil, sys
from pathlib import Path
from autograder import refmodels
folder = refmodels.reference_models("digits")
for f in refmodels.FILES:
    shutil.copy2(folder / f, Path(sys.argv[1]) / f)
print(f"models from {folder}")
PYEOF
du -sh "$PACK"/*
echo "ready: copy the working tree with .gpu-pack/ to the GPU machine and run: bash scripts/gpu-check.sh"
