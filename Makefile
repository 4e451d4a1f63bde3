# The kit's two commands (README.md):
#   make demo   set up on a fresh machine, then run the demo on scikit-learn's digits
#   make test   set up on a fresh machine, then run the kit's whole test suite
# Everything is installed into .venv by this file; nothing else is assumed.

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test setup system-deps template validate hostile-full flakes bench bench-otter clean \
        build image image-notorch

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e '.[torch,dev,scale]'
	rm -f $(VENV)/.installed-*
	touch $@

# The kit's own code and tests compiled to bytecode (only what changed; a few ms when nothing
# did): pip compiles what it installs, not an editable install, and where PYTHONDONTWRITEBYTECODE
# is set every grading would compile ~15 000 lines again (~0.2 s of CPU).
setup: $(STAMP)
	$(PY) -m compileall -q autograder hidden_tests student_template/tests reference > /dev/null

system-deps:
	bash scripts/install-system-deps.sh

demo: setup system-deps
	$(PY) -m autograder demo

# Two steps: the suite (every test but the grading image's), then the grading image built from
# the Dockerfile WITH torch and a batch graded in containers (tests/batch/test_container.py; it skips
# only where podman cannot run).  pytest's exit code 5 (no tests collected) fails either step.
test: setup system-deps
	$(PY) -m pytest -m "not podman"
	$(PY) -m pytest -m podman

template: setup
	$(PY) -m autograder template

# The full runs of the slow corpora (CI runs deterministic subsets of both):
#   every mutant and alternative of mutants/, the reference under extra seeds, the template
validate: setup system-deps
	$(PY) -m autograder validate
#   the flake audit: the reference and every accepted alternative, each question to >= 2000
#   test-runs, two gradings per core (reports/flakes/)
flakes: setup system-deps
	$(PY) -m autograder validate --flakes 1 --min-runs 2000
#   every hostile submission against the whole assignment
hostile-full: setup system-deps
	DLKIT_HOSTILE_FULL=1 $(PY) -m pytest tests/hostile -m "not podman"

bench: setup system-deps
	$(PY) bench/run_all.py

# Figure (c) of bench_grading.py alone: the kit vs otter-grader 7.0.0, alternated in one run
# (makes bench/.otter-venv from PyPI on first use)
bench-otter: setup system-deps
	$(PY) bench/bench_grading.py --only c

# Gradescope's autograder.zip and the students' handout.zip, in build/
build: setup
	$(PY) -m autograder build

# The grading image (podman, no network): base image, wheelhouse (cached in build/wheelhouse),
# context, podman build.  image-notorch: a numpy-only image, without torch.
image: setup system-deps
	bash scripts/build-image.sh

image-notorch: setup system-deps
	bash scripts/build-image.sh --no-torch --tag localhost/dlkit-grader:notorch

clean:
	rm -rf $(VENV) build *.egg-info bench/.otter-venv
