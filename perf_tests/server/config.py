"""The simulator's behaviour: run lifecycle timing and fault injection, one validated model.

The same model is accepted by :class:`~perf_tests.server.embedded.EmbeddedKfpServer`, by the standalone
command line (``python -m perf_tests.server --set key=value``) and by ``PUT /_admin/config``, so a test,
a dry run and a person at a terminal all change the same knobs. Defaults inject no faults.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SerializationInfo, field_serializer, model_validator

__all__ = ["DEFAULT_PROFILE_NAMESPACE", "DEFAULT_USER", "Probability", "SimulatorConfig", "multi_user_settings"]

DEFAULT_USER = "user@example.com"
"""The user of Kubeflow's example profile (``kubeflow/manifests``)."""
DEFAULT_PROFILE_NAMESPACE = "kubeflow-user-example-com"
"""That user's profile namespace."""

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
"""A probability in ``[0, 1]``."""

Seconds = Annotated[float, Field(ge=0.0)]
Milliseconds = Annotated[float, Field(ge=0.0)]


class SimulatorConfig(BaseModel):
    """How the embedded KFP simulator behaves. Immutable: change it with :meth:`merged`.

    Run lifecycle: a run waits ``pending_seconds`` in PENDING, then stays RUNNING for its duration and
    ends SUCCEEDED (or FAILED, or never ends). The duration is ``run_duration_seconds`` when set, else
    the number of tasks in the pipeline's root DAG times ``task_seconds``; ``run_duration_spread`` then
    scales it by a uniform factor in ``[1 - spread, 1 + spread]``. ``:terminate`` holds a run in
    CANCELING for ``canceling_seconds`` before CANCELED.

    API faults, drawn once per request to ``/apis/...`` (``/_admin`` is never faulted): an added latency
    of ``latency_ms`` plus a uniform ``[0, latency_jitter_ms]``, plus ``latency_spike_ms`` with
    probability ``latency_spike_probability``; then, mutually exclusive, an HTTP ``error_status``
    answer (``error_probability``), a connection closed without an answer (``drop_probability``) or an
    answer that never comes until the client gives up or the server stops (``hang_probability``).
    Faulted requests have no side effects. ``healthz`` is exempt unless ``faults_on_healthz``, because
    ``kfp.Client()`` calls it on construction and sleeps 5 s between retries.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Run lifecycle.
    task_seconds: Seconds = 1.0
    run_duration_seconds: Seconds | None = None
    run_duration_spread: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    pending_seconds: Seconds = 0.5
    canceling_seconds: Seconds = 0.5
    run_failure_probability: Probability = 0.0
    run_never_finishes_probability: Probability = 0.0

    # API faults.
    latency_ms: Milliseconds = 0.0
    latency_jitter_ms: Milliseconds = 0.0
    latency_spike_probability: Probability = 0.0
    latency_spike_ms: Milliseconds = 0.0
    error_probability: Probability = 0.0
    error_status: Annotated[int, Field(ge=500, le=599)] = 500
    drop_probability: Probability = 0.0
    hang_probability: Probability = 0.0
    faults_on_healthz: bool = False

    # Fidelity.
    timestamp_precision: Literal["seconds", "milliseconds"] = "seconds"
    """``seconds`` as the KFP API server (whole-second ``created_at``, so objects of one second are
    ordered by id; run and task times whole seconds); ``milliseconds`` for tests timing 0.2 s runs."""

    # Identity and randomness.
    commit_sha: str = "embedded-simulator"
    """``healthz`` ``commit_sha`` (the API server's ``COMMIT_SHA``; it says ``unknown`` when unset, but the
    framework reports this field as the target's version, so the simulator names itself)."""
    tag_name: str = "embedded-simulator"
    """``healthz`` ``tag_name`` (the API server's ``TAG_NAME``, its release tag on a cluster)."""
    multi_user: bool = False
    """Behave like a Kubeflow profile deployment (see the class docstring)."""
    user_id_header: str = "kubeflow-userid"
    """Where the user identity comes from (the API server's ``KUBEFLOW_USERID_HEADER``)."""
    user_id_prefix: str = ""
    """Prefix stripped from that header, which must carry it (``KUBEFLOW_USERID_PREFIX``)."""
    namespace_access: dict[str, list[str]] = Field(default_factory=lambda: {DEFAULT_USER: [DEFAULT_PROFILE_NAMESPACE]})
    """Which namespaces each user may use (the SubjectAccessReview answers); others are 403."""
    bearer_tokens: dict[str, str] = Field(default_factory=dict, repr=False)
    """``Authorization: Bearer <token>`` → user, as KFP's TokenReview authenticator resolves it."""
    session_cookies: dict[str, str] = Field(default_factory=dict, repr=False)
    """``name=value`` of a ``Cookie`` → user, as a Kubeflow gateway (authservice) resolves a session."""
    anonymous_user: str | None = None
    """The identity of requests that bring none (a gateway that always injects one); None: they are 401."""
    seed: int | None = None

    @model_validator(mode="after")
    def _exclusive_faults_fit(self) -> Self:
        total = self.error_probability + self.drop_probability + self.hang_probability
        if total > 1.0 + 1e-9:
            raise ValueError(
                "error_probability + drop_probability + hang_probability must not exceed 1 "
                f"(got {total:g}): the three faults are mutually exclusive outcomes of one draw"
            )
        if self.run_failure_probability + self.run_never_finishes_probability > 1.0 + 1e-9:
            raise ValueError("run_failure_probability + run_never_finishes_probability must not exceed 1")
        return self

    @field_serializer("bearer_tokens", "session_cookies")
    def _mask_secrets(self, value: dict[str, str], info: SerializationInfo) -> dict[str, str]:
        if isinstance(info.context, dict) and info.context.get("redact"):
            return {f"***{index}": user for index, user in enumerate(value.values())}
        return value

    def redacted_json(self) -> str:
        """The configuration as JSON with tokens and cookies masked (what ``GET /_admin/config`` shows)."""
        return self.model_dump_json(context={"redact": True})

    def merged(self, **changes: Any) -> SimulatorConfig:
        """Return a validated copy with ``changes`` applied (unknown keys are an error)."""
        return SimulatorConfig.model_validate({**self.model_dump(), **changes})

    @property
    def has_api_faults(self) -> bool:
        """Whether any per-request fault or latency is configured (the fast path skips the draw)."""
        return bool(
            self.latency_ms
            or self.latency_jitter_ms
            or self.latency_spike_probability
            or self.error_probability
            or self.drop_probability
            or self.hang_probability
        )


def multi_user_settings(namespace: str, token: str | None = None, cookie: str | None = None) -> dict[str, Any]:
    """Simulator settings for a framework run with ``MULTI_USER=true`` against the embedded default.

    The simulated user (:data:`DEFAULT_USER`) may use ``namespace`` (``NAMESPACE``) only. With a token
    (``API_TOKEN``) or a cookie (``API_COOKIE``) only that credential identifies the user, so a wrong one
    is a 401; with neither, requests are the user's, as behind a gateway that adds the identity header.
    """
    settings: dict[str, Any] = {"multi_user": True, "namespace_access": {DEFAULT_USER: [namespace]}}
    if token:
        settings["bearer_tokens"] = {token: DEFAULT_USER}
    if cookie:
        pairs = [part.strip() for part in cookie.split(";") if "=" in part]
        settings["session_cookies"] = dict.fromkeys(pairs, DEFAULT_USER)
    if not token and not cookie:
        settings["anonymous_user"] = DEFAULT_USER
    return settings
