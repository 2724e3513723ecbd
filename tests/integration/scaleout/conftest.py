"""The scale-out tests use the fake Kubernetes API of the Tekton tests (``tests/integration/tekton/fake_kube.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tekton"))
