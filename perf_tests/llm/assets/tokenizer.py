"""A small, real Hugging Face tokenizer built locally, for GuideLLM's synthetic prompts without a model hub.

GuideLLM sizes synthetic prompts in tokens, so it needs a tokenizer; with no hub to download one from,
the framework trains a byte-level BPE (``tokenizers``) on ``data/corpus.txt`` bundled in this package,
wraps it in ``transformers.PreTrainedTokenizerFast`` and saves it with ``save_pretrained``: about a
second and ~150 KB. Byte-level means every text encodes; English text comes out at about four characters
per token, like real LLM tokenizers. Training is deterministic, and the folder name carries a hash of
the corpus and the settings, so a built folder is reused as long as nothing changed.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Any

from perf_tests.errors import RunnerError
from perf_tests.llm.assets.cached_folder import cached_folder

__all__ = ["TOKENIZER_FILES", "VOCAB_SIZE", "build_tokenizer", "corpus_text", "default_tokenizer"]


VOCAB_SIZE = 4096
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
_BUILDER_VERSION = 1  # bump when the training recipe changes
_SPECIAL = "<|endoftext|>"


def corpus_text() -> str:
    """The bundled training text."""
    return resources.files("perf_tests.llm.assets").joinpath("data/corpus.txt").read_text(encoding="utf-8")


def _key(corpus: str) -> str:
    digest = hashlib.sha256(f"{_BUILDER_VERSION}:{VOCAB_SIZE}:{corpus}".encode()).hexdigest()
    return f"bpe-{VOCAB_SIZE}-{digest[:12]}"


def build_tokenizer(folder: Path, corpus: str | None = None) -> Path:
    """Train the tokenizer on ``corpus`` (default: the bundled text) and save it in ``folder``."""
    try:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
        from transformers import PreTrainedTokenizerFast
    except ImportError as exc:
        raise RunnerError(
            f"building the default tokenizer needs `tokenizers` and `transformers` ({exc.name} is missing); "
            "install the llm extra (`pip install -e '.[llm]'`) or give the entry a 'tokenizer' folder"
        ) from None
    text = corpus if corpus is not None else corpus_text()
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=1,
        special_tokens=[_SPECIAL],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(text.splitlines(), trainer=trainer)
    fast_class: Any = PreTrainedTokenizerFast  # transformers' constructor is untyped
    wrapped = fast_class(
        tokenizer_object=tokenizer,
        bos_token=_SPECIAL,
        eos_token=_SPECIAL,
        unk_token=_SPECIAL,
        model_max_length=1 << 30,  # synthetic prompts can be long; the mock has no context limit
    )
    folder.mkdir(parents=True, exist_ok=True)
    wrapped.save_pretrained(str(folder))
    return folder


def default_tokenizer(cache_dir: Path) -> Path:
    """The built-in tokenizer's folder under ``cache_dir``, built on first use (thread-safe).

    Built in a temporary folder and renamed into place, so a half-written folder is never used.
    """
    corpus = corpus_text()
    return cached_folder(cache_dir / _key(corpus), TOKENIZER_FILES, lambda scratch: build_tokenizer(scratch, corpus),
                         "the default tokenizer")
