"""What the framework builds locally so LLM tests run without a model hub: a tokenizer and a tiny model.

- ``tokenizer``: a byte-level BPE trained on the bundled ``data/corpus.txt`` (GuideLLM's synthetic prompts).
- ``tiny_model``: a random-weight Llama for a real vLLM on CPU (``python -m perf_tests.llm.assets.tiny_model``).
- ``cached_folder``: both are built once into a cache folder, never seen half-written.
"""

from perf_tests.llm.assets.cached_folder import cached_folder
from perf_tests.llm.assets.tiny_model import build_tiny_model, tiny_model
from perf_tests.llm.assets.tokenizer import build_tokenizer, default_tokenizer

__all__ = ["build_tiny_model", "build_tokenizer", "cached_folder", "default_tokenizer", "tiny_model"]
