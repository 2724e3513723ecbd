"""The tiny model builds deterministically from the framework's tokenizer, with a chat template, offline."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from perf_tests.llm.assets.tiny_model import CHAT_TEMPLATE, MODEL_FILES, build_tiny_model, main, tiny_model
from perf_tests.llm.assets.tokenizer import default_tokenizer

pytestmark = pytest.mark.llm


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_builds_are_byte_identical_and_shaped_for_vllm_cpu(tmp_path: Path) -> None:
    tokenizer = default_tokenizer(tmp_path / "tokenizers")
    first = build_tiny_model(tmp_path / "a", tokenizer)
    second = build_tiny_model(tmp_path / "b", tokenizer)
    for name in MODEL_FILES:
        assert _digest(first / name) == _digest(second / name), name
    config = json.loads((first / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "llama"
    assert config["hidden_size"] // config["num_attention_heads"] == 64  # vLLM's CPU attention: no head size 16
    vocab = json.loads((tokenizer / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    assert config["vocab_size"] == len(vocab)


def test_the_chat_template_renders_with_the_tokenizer(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    folder = tiny_model(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    assert tokenizer.chat_template == CHAT_TEMPLATE
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Hello"}], tokenize=False,
                                         add_generation_prompt=True)
    assert text == "<|user|>\nHello<|endoftext|>\n<|assistant|>\n"


def test_cli_build_prints_the_folder_and_reuses_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--cache-dir", str(tmp_path)]) == 0
    folder = Path(capsys.readouterr().out.strip())
    assert folder.parent == tmp_path.resolve() and folder.name.startswith("tiny-llama-")
    built = (folder / "model.safetensors").stat().st_mtime_ns
    assert main(["build", "--cache-dir", str(tmp_path)]) == 0
    assert Path(capsys.readouterr().out.strip()) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == built  # reused, not rebuilt


def test_cli_serve_without_the_vllm_venv_is_a_clear_error(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--cache-dir", str(tmp_path), "--vllm-python", str(tmp_path / "missing" / "python")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "missing/python not found" in err and "make vllm-env" in err and "Traceback" not in err
