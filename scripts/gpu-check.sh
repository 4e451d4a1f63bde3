#!/usr/bin/env bash
# One command, on a machine with an NVIDIA GPU and no network, that proves the kit scores
# saved models on the GPU (README "Grading on a GPU"); writes bench/results/gpu.json.
#
#   bash scripts/gpu-check.sh [--out FILE]
#
# Assumes python3 with torch (a CUDA build), torchvision, safetensors, scikit-learn and pytest;
# everything else comes from .gpu-pack/ (made beforehand by scripts/gpu-pack.sh):
# bubblewrap unpacked with dpkg -x into a temp folder (nothing installed), and the wheels of
# the packages python3 lacks installed with --no-deps into a temp folder on PYTHONPATH.
# Runs in about 3-5 minutes (steps in scripts/gpu_check.py).  PYTHON overrides python3.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PACK="$HERE/.gpu-pack"
PY="${PYTHON:-python3}"
TMP="$(mktemp -d /tmp/dlkit-gpu-XXXXXX)"
cd "$HERE" || exit 2

if ! command -v bwrap >/dev/null 2>&1; then
    for deb in "$PACK"/debs/*.deb; do
        [ -f "$deb" ] && dpkg -x "$deb" "$TMP/root"
    done
    if [ -x "$TMP/root/usr/bin/bwrap" ]; then
        export PATH="$TMP/root/usr/bin:$PATH"
        echo "[gpu-check] bubblewrap from $(basename "$PACK"/debs/bubblewrap_*.deb)" >&2
    else
        echo "[gpu-check] no bwrap and no .gpu-pack/debs/bubblewrap_*.deb: the bubblewrap run will fail" >&2
    fi
fi

if [ -d "$PACK/wheels" ]; then
    # install only the distributions python3 does not already have (no second numpy, ...)
    MISSING=$("$PY" - "$PACK/wheels" <<'PYEOF'
import sys
from importlib import metadata
from pathlib import Path
have = {d.metadata["Name"].lower().replace("_", "-") for d in metadata.distributions()}
for whl in sorted(Path(sys.argv[1]).glob("*.whl")):
    name = whl.name.split("-")[0].lower().replace("_", "-")
    if name not in have:
        print(whl)
PYEOF
)
    if [ -n "$MISSING" ]; then
        # shellcheck disable=SC2086
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$TMP/site" $MISSING || exit 2
        export PYTHONPATH="$TMP/site${PYTHONPATH:+:$PYTHONPATH}"
        echo "[gpu-check] installed from .gpu-pack/wheels: $(echo "$MISSING" | xargs -n1 basename | tr '\n' ' ')" >&2
    fi
fi

export PYTHONUNBUFFERED=1
"$PY" scripts/gpu_check.py "$@"
rc=$?
rm -rf "$TMP"
exit $rc
