# The kit's two commands (README.md):
#   make demo   set up on a fresh machine, then run the demo on scikit-learn's digits
#   make test   set up on a fresh machine, then run the kit's whole test suite
# Everything is installed into .venv by this file; nothing else is assumed.

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test setup system-deps template validate validate-full hostile-full bench clean \
        build image image-notorch

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e '.[torch,dev]'
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

demo: setup system-deps
	$(PY) -m autograder demo

test: setup system-deps
	$(PY) -m pytest

template: setup
	$(PY) -m autograder template

bench: setup system-deps
	$(PY) bench/run_all.py

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
	rm -rf $(VENV) build *.egg-info
