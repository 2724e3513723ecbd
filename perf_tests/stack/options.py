"""The ``stack`` block of an LLM_LOAD entry: the model server the entry deploys, loads and tears down.

``StackOptions`` is validated with the entry (camelCase, unknown keys are errors, every field in the
scenario JSON Schema). ``kind`` picks the implementation: ``local-vllm`` (the vLLM CPU server of
``make vllm-env`` on a free loopback port) or ``kubernetes`` (a Deployment and a Service, optionally an
InferencePool and an HTTPRoute, in a namespace the run may create). A ``matrix`` varies its fields with
dotted factor names (``"stack.replicas": [1, 2]``); each combination deploys its own stack, one after the
other.

Secrets: an ``env`` variable whose name names a secret (``VLLM_API_KEY``, ``HF_TOKEN``, ...,
``perf_tests.logger.redaction.is_secret_name``) is masked in every record and log (``shown_env``); a
``kubernetes`` stack refuses one (a Deployment's env is readable by whoever may read Deployments: the
token comes from the Secret ``hf-secret``). vLLM's ``--api-key`` is refused in ``args``: it would be on
the server's command line (``ps``); ``env`` ``VLLM_API_KEY`` does the same.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from perf_tests.logger.redaction import is_secret_name, register_secret
from perf_tests.models.durations import Seconds
from perf_tests.models.fields import OptionsModel
from perf_tests.models.scenario import NESTED_FACTORS

__all__ = [
    "RESERVED_SERVER_ARGS",
    "SECRET_SERVER_ARGS",
    "STACK_KINDS",
    "NamespaceOptions",
    "StackKind",
    "StackOptions",
]

StackKind = Literal["local-vllm", "kubernetes"]
STACK_KINDS: tuple[str, ...] = ("local-vllm", "kubernetes")

RESERVED_SERVER_ARGS: tuple[str, ...] = ("--model", "--served-model-name", "--host", "--port")
"""vLLM options the stack sets itself (from ``model``, ``servedModelName`` and the port it picks)."""
SECRET_SERVER_ARGS: dict[str, str] = {"--api-key": "VLLM_API_KEY"}
"""vLLM options holding a secret -> the environment variable vLLM reads instead (never a command line)."""
_MASK = "***"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|[KMGTPE]i?|[eE][0-9]+)?$")


class NamespaceOptions(OptionsModel):
    """Where a ``kubernetes`` stack goes: an existing namespace, or a new one made for the run."""

    name: str | None = Field(
        default=None,
        description="Namespace name; with create: true the prefix of a per-run namespace (default 'perf-stack'); "
        "without: an existing namespace (default: the kubeconfig context's).",
    )
    create: bool = Field(default=False, description="Create a namespace for this entry and delete it afterwards.")

    @field_validator("name")
    @classmethod
    def _dns_label(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 40 or not _DNS_LABEL.match(value)):
            raise ValueError(f"{value!r} is not a namespace name (lower-case letters, digits and '-', at most 40 "
                             "characters here, so the per-run suffix fits)")
        return value


class StackOptions(OptionsModel):
    """The model server an LLM_LOAD entry deploys before its load and removes after it."""

    kind: StackKind = Field(description=f"What to deploy: {', '.join(STACK_KINDS)}.")
    model: str | None = Field(
        default=None,
        description="Model to serve: a local folder or a model name (kubernetes: what vLLM loads, required); "
        "local-vllm default: the framework's tiny random-weight Llama, built locally.",
    )
    served_model_name: str | None = Field(
        default=None, description="Model name the server reports and requests use (default: 'tiny-llama' for the "
        "tiny model, else model).",
    )
    image: str | None = Field(default=None, description="kubernetes: the vLLM container image (required there).")
    replicas: int = Field(default=1, ge=1, le=64, description="Server replicas (local-vllm: 1).")
    args: list[str] = Field(
        default_factory=list, description="More vLLM server flags, e.g. ['--max-num-seqs', '8'] (a later flag wins).",
    )
    env: dict[str, str] = Field(default_factory=dict, description="Environment variables of the server.")
    resources: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="kubernetes: the container's resources, e.g. {'requests': {'cpu': '2'}, 'limits': "
        "{'nvidia.com/gpu': '1'}}.",
    )
    namespace: NamespaceOptions = Field(default_factory=NamespaceOptions,
                                        description="kubernetes: where the stack goes ({name, create}).")
    ready_timeout: Seconds = Field(
        default=600.0, description="How long the stack may take to be ready (seconds or '10m'); then the entry fails.",
    )
    keep: bool = Field(default=False, description="Leave the stack running after the entry (not torn down).")
    port: int = Field(default=8000, ge=1, le=65535, description="kubernetes: the server's container and Service port.")
    inference_pool: str | None = Field(
        default=None, description="kubernetes: an InferencePool manifest (file; ${NAME}, ${NAMESPACE}, ${MODEL_LABEL}, "
        "${PORT} are replaced) created with the stack.",
    )
    http_route: str | None = Field(
        default=None, description="kubernetes: an HTTPRoute manifest (file, same placeholders) created with the stack.",
    )
    gateway_url: str | None = Field(
        default=None,
        description="kubernetes: base URL of the Gateway to load instead of the Service (with httpRoute).",
    )

    @field_validator("model", "served_model_name", "image")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty; leave the field out for the default")
        return value.strip() if value is not None else None

    @field_validator("args")
    @classmethod
    def _no_reserved(cls, value: list[str]) -> list[str]:
        for index, arg in enumerate(value):
            flag = arg.split("=", 1)[0]
            if flag in SECRET_SERVER_ARGS:  # masked wherever the arguments are echoed (this error's too)
                register_secret(arg.split("=", 1)[1] if "=" in arg else "".join(value[index + 1:index + 2]))
            if flag in RESERVED_SERVER_ARGS:
                raise ValueError(f"{flag} is set by the stack; use the stack's model and servedModelName fields")
            if flag in SECRET_SERVER_ARGS:  # the value is not echoed
                raise ValueError(f"{flag} would put a secret on the server's command line (ps shows it); set "
                                 f"env {SECRET_SERVER_ARGS[flag]} instead (kind local-vllm)")
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
            if is_secret_name(name):
                register_secret(value[name])  # redacted wherever it is echoed
        return value

    @field_validator("resources")
    @classmethod
    def _quantities(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for section, quantities in value.items():
            if section not in ("requests", "limits"):
                raise ValueError(f"{section!r}: resources take 'requests' and 'limits'")
            for resource, quantity in quantities.items():
                if not _QUANTITY.match(str(quantity)):
                    raise ValueError(f"{section}.{resource}: {quantity!r} is not a Kubernetes quantity "
                                     "(e.g. 500m, 2Gi)")
        return value

    @field_validator("ready_timeout")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be greater than 0")
        return value

    @model_validator(mode="after")
    def _kind_fields(self) -> StackOptions:
        if self.kind == "local-vllm":
            cluster_only = [name for name, given in (
                ("image", self.image is not None), ("resources", bool(self.resources)),
                ("inferencePool", self.inference_pool is not None), ("httpRoute", self.http_route is not None),
                ("gatewayUrl", self.gateway_url is not None),
                ("namespace", self.namespace != NamespaceOptions()),
            ) if given]
            if cluster_only:
                raise ValueError(f"{', '.join(cluster_only)} apply only to kind kubernetes; remove them for local-vllm")
            if self.replicas != 1:
                raise ValueError("local-vllm runs one server (replicas 1); use kind kubernetes for more replicas")
        else:
            secret = sorted(name for name in self.env if is_secret_name(name))
            if secret:
                raise ValueError(f"env {', '.join(secret)}: a secret in a Deployment's env is readable by whoever "
                                 "may read Deployments; HF_TOKEN comes from the Secret hf-secret (optional)")
            missing = [name for name, value in (("image", self.image), ("model", self.model)) if value is None]
            if missing:
                raise ValueError(f"kind kubernetes needs {' and '.join(missing)} (the vLLM image and the model it "
                                 "loads)")
            if self.gateway_url is not None and self.http_route is None:
                raise ValueError("gatewayUrl needs httpRoute (the route from the Gateway to the stack)")
        return self

    @property
    def shown_env(self) -> dict[str, str]:
        """``env`` as records and reports show it: the values of secret names masked."""
        return {name: _MASK if is_secret_name(name) else value for name, value in self.env.items()}

    @property
    def model_label(self) -> str:
        """The model's name as a DNS label (for labels and object names)."""
        name = (self.served_model_name or self.model or "model").lower().rsplit("/", 1)[-1]
        label = re.sub(r"[^a-z0-9-]+", "-", name).strip("-")[:40].strip("-")
        return label or "model"


def _nested_factor_schemas() -> dict[str, dict[str, object]]:
    """Each stack field as a matrix factor ``stack.<field>``: the JSON Schema of one of its values (references
    inlined: the factor schemas sit inside the entry's schema, beside pydantic's own references)."""
    generated = StackOptions.model_json_schema()
    definitions = generated.get("$defs", {})

    def inline(node: object) -> object:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    factors: dict[str, dict[str, object]] = {}
    for alias, schema in generated["properties"].items():
        ref = schema.get("$ref")
        full = {**definitions[ref.removeprefix("#/$defs/")], **schema} if isinstance(ref, str) else schema
        factors[alias] = {k: inline(v) for k, v in full.items() if k not in ("$ref", "default", "title", "description")}
    return factors


NESTED_FACTORS["stack"] = _nested_factor_schemas()
