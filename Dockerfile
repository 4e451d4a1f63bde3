# The grading image: Gradescope's layout (/autograder/run_autograder, /autograder/source,
# /autograder/submission, /autograder/results) with the kit installed in /opt/venv.
#
# The build context is NOT the checkout: `python -m autograder build --context DIR` writes it
# (or `make image`, which also makes the base image and the wheelhouse):
#
#   DIR/wheels/base/   the kit's dependencies as wheels for the image's Python
#   DIR/wheels/torch/  torch, torchvision, safetensors (only used with WITH_TORCH=1)
#   DIR/wheels/kit/    the kit itself (a wheel of this project)
#   DIR/wheels/requirements-{base,torch}.txt, DIR/wheels/MANIFEST   what to install, and the
#                      list of wheels (name, size) that keys the layer cache
#   DIR/source/        the grading inputs: assignment.toml, hidden_tests/, reference/,
#                      student_template/tests + pytest.ini, datasets/<name>/public + private,
#                      run_autograder
#
#   PODMAN="podman --runtime runc --cgroup-manager cgroupfs"
#   $PODMAN build --network none -f Dockerfile -t localhost/dlkit-grader:latest \
#       [--build-arg WITH_TORCH=0] [--build-arg BASE_IMAGE=...] DIR
#
# Python packages come ONLY from the wheelhouse (pip --no-index): the build needs no network.
#
# BASE_IMAGE: localhost/grader-base:bookworm is a Debian bookworm minbase with python3,
# python3-venv and python3-pip (scripts/build-base-image.sh, no registry needed).  Gradescope's
# own base, gradescope/autograder-base:latest (Ubuntu), also works: the kit needs Python >= 3.11
# (tomllib), so pass --build-arg PYTHON=python3.11 where python3 is older, build the
# wheelhouse for that Python (WHEELHOUSE_PYTHON_VERSION), and give that one build the network
# (the apt step below installs the interpreter when it is missing).
#
# Run (what `batch --backend container` does; CONTAINERS.md): the grader runs as root with
# exactly SETUID and SETGID, and drops each worker to another uid; every other capability is
# dropped, and the worker itself keeps none:
#   $PODMAN run --rm --network none --memory 6g --memory-swap 6g --pids-limit 1024 \
#       --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 --cap-drop ALL \
#       --cap-add SETUID --cap-add SETGID --security-opt no-new-privileges \
#       -v SUBMISSION:/autograder/submission:ro IMAGE
ARG BASE_IMAGE=localhost/grader-base:bookworm
FROM ${BASE_IMAGE}

ARG WITH_TORCH=1
ARG PYTHON=python3
# The uid the sandboxed worker runs as (the grader drops to it; `batch` gives each parallel
# job its own uid through AUTOGRADER_WORKER_UID, since process limits count per uid).
ARG WORKER_UID=61000

ENV LANG=C.UTF-8 \
    LC_ALL=C.UTF-8 \
    MPLBACKEND=Agg \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    AUTOGRADER_KIT_ROOT=/autograder/source \
    AUTOGRADER_WORKER_UID=${WORKER_UID} \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Only on a base without the interpreter (e.g. Ubuntu 22.04 and PYTHON=python3.11): needs
# the network for that build.  The bookworm base has it, so this is a no-op there.
RUN if ! command -v "${PYTHON}" >/dev/null 2>&1 || ! "${PYTHON}" -c "import ensurepip, venv" 2>/dev/null; then \
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            "${PYTHON}" "${PYTHON}-venv" && rm -rf /var/lib/apt/lists/*; \
    fi \
 && "${PYTHON}" -c "import sys; assert sys.version_info >= (3, 11), 'the kit needs Python >= 3.11 (tomllib)'"

# The dependencies, from the wheelhouse only (bind-mounted: the wheels never land in a layer).
# MANIFEST lists every wheel of the context (name and size): copying it first makes the layer
# cache follow the wheel set.  torch is optional: a numpy-only assignment builds with
# WITH_TORCH=0 (and a context made with --no-torch).
COPY wheels/MANIFEST /opt/wheels.manifest
RUN --mount=type=bind,source=wheels,target=/wheels \
    "${PYTHON}" -m venv /opt/venv \
 && reqs="-r /wheels/requirements-base.txt" \
 && if [ "${WITH_TORCH}" = 1 ]; then reqs="$reqs -r /wheels/requirements-torch.txt"; fi \
 && /opt/venv/bin/pip install --no-index --find-links /wheels/base --find-links /wheels/torch $reqs

# The kit itself (a wheel of this project): its own layer, so a code change rebuilds only this.
COPY wheels/kit /opt/kit-wheel
RUN /opt/venv/bin/pip install --no-index --no-deps /opt/kit-wheel/*.whl \
 && rm -rf /opt/kit-wheel \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/python -c "import autograder.cli, numpy, sklearn, matplotlib, jsonschema" \
 && if [ "${WITH_TORCH}" = 1 ]; then /opt/venv/bin/python -c "import torch, torchvision, safetensors"; fi

# The unprivileged worker user (no home, no shell, no groups).
RUN groupadd --gid "${WORKER_UID}" dlkit-worker \
 && useradd -K UID_MAX=65000 -K GID_MAX=65000 --uid "${WORKER_UID}" --gid "${WORKER_UID}" --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin dlkit-worker

COPY source /autograder/source

# Gradescope's layout.  Everything under /autograder is root-only (0700 folders, 0600 files):
# hidden tests, the reference, private labels, the salt in assignment.toml and the results
# cannot be read by the worker uid.  Only the public data split is world-readable (the worker
# loads it), reached through traverse-only (0711) folders that cannot be listed.
# The rule lives in lock_secrets.sh (autograder/build_assets/), which Gradescope's setup.sh runs too.
# The tests and the reference compiled to bytecode before they are locked (the kit itself was
# compiled by pip): a grading does not compile them again (~0.1 s each).
RUN /opt/venv/bin/python -m compileall -q /autograder/source > /dev/null \
 && install -m 0755 /autograder/source/run_autograder /autograder/run_autograder \
 && mkdir -p /autograder/submission /autograder/results \
 && sh /autograder/source/lock_secrets.sh /autograder \
 && AUTOGRADER_KIT_ROOT=/autograder/source /opt/venv/bin/python -m autograder check-config >/dev/null

WORKDIR /autograder
CMD ["/autograder/run_autograder"]
