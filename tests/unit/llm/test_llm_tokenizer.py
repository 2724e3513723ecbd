"""The built-in tokenizer: a real Hugging Face tokenizer trained locally, cached, deterministic."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf_tests.llm.assets.tokenizer import TOKENIZER_FILES, corpus_text, default_tokenizer

pytestmark = pytest.mark.llm


def test_builds_once_and_loads_with_transformers(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers", reason="transformers is not installed (the llm extra)")
    folder = default_tokenizer(tmp_path)
    assert all((folder / name).is_file() for name in TOKENIZER_FILES)
    stamp = (folder / "tokenizer.json").stat().st_mtime_ns
    assert default_tokenizer(tmp_path) == folder
    assert (folder / "tokenizer.json").stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".building-")]
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    odd = "42 ünïcode ✓ \t日本"
    assert tokenizer.decode(tokenizer.encode(odd)) == odd  # byte-level: any text round-trips
    text = "Finish medical want almost away until. Its culture song reveal return finally affect."
    assert 3.0 < len(text) / len(tokenizer.encode(text)) < 6.0  # ~4 characters per token, like real tokenizers


def test_training_is_deterministic(tmp_path: Path) -> None:
    pytest.importorskip("tokenizers", reason="tokenizers is not installed (the llm extra)")
    first = default_tokenizer(tmp_path / "a")
    second = default_tokenizer(tmp_path / "b")
    assert first.name == second.name
    assert (first / "tokenizer.json").read_bytes() == (second / "tokenizer.json").read_bytes()
    assert len(corpus_text()) > 10_000
