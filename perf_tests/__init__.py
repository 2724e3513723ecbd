"""perf-tests: pytest-driven performance tests for Kubeflow Pipelines and LLM serving stacks."""

__version__ = "0.1.0"
