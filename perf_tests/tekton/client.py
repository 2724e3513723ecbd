"""The Kubernetes calls the Tekton executor makes, and nothing else, with errors a user can act on.

``TektonClient`` wraps the ``kubernetes`` client (kubeconfig with an optional context, or the pod's
service account). Each method is one API call; ``PERMISSIONS`` lists the verb and resource of every one
of them, which is exactly what ``deploy/tekton/rbac.yaml`` grants. Failures become ``TargetError``
messages that say what to do (log in again, which verb a service account lacks, install Tekton); the
bearer token is registered for redaction as soon as it is read and never appears in a message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from perf_tests.errors import TargetError
from perf_tests.logger.redaction import redact, register_secret
from perf_tests.targets.deadline import Deadline, current_deadline, install_deadline_pools
from perf_tests.tekton.settings import TektonSettings

__all__ = [
    "PERMISSIONS",
    "TEKTON_API_VERSION",
    "TEKTON_GROUP",
    "TEKTON_VERSION",
    "Permission",
    "PipelineRunWatch",
    "TektonClient",
    "WatchEvent",
    "WatchExpired",
]

TEKTON_GROUP = "tekton.dev"
TEKTON_VERSION = "v1"
TEKTON_API_VERSION = f"{TEKTON_GROUP}/{TEKTON_VERSION}"
T = TypeVar("T")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Permission:
    """One RBAC rule the executor needs: API group, resource and verbs, in the run or Task namespace."""

    api_group: str
    resource: str
    verbs: tuple[str, ...]


# Every call below, by RBAC verb. deploy/tekton/rbac.yaml grants exactly these; a test keeps them equal.
PERMISSIONS: tuple[Permission, ...] = (
    Permission(TEKTON_GROUP, "pipelineruns", ("create", "delete", "get", "patch", "watch")),
    Permission(TEKTON_GROUP, "tasks", ("get",)),
    Permission("", "pods", ("list",)),
    Permission("", "pods/log", ("get",)),
    Permission("", "secrets", ("create", "delete")),
)


@dataclass(frozen=True)
class WatchEvent:
    """One watch event: ``ADDED``, ``MODIFIED``, ``DELETED`` (or ``BOOKMARK``) and the object."""

    type: str
    object: dict[str, Any]


class TektonClient:
    """Tekton and core API calls in one namespace (PipelineRuns, pods, logs) and the Task's namespace."""

    def __init__(self, api_client: Any, settings: TektonSettings, where: str) -> None:
        from kubernetes import client

        self._api_client = api_client
        self.settings = settings
        self.namespace = settings.namespace
        self.where = where  # "kubeconfig context X" or "in-cluster service account", for messages
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        # urllib3's timeouts are per read; a total deadline per call needs deadline-aware connections.
        pool_manager = getattr(getattr(api_client, "rest_client", None), "pool_manager", None)
        if pool_manager is not None:
            install_deadline_pools(pool_manager)

    # -- connecting -------------------------------------------------------------------------------------
    @classmethod
    def connect(cls, settings: TektonSettings) -> Self:
        """Load the kubeconfig (or in-cluster config) the settings name; raise TargetError when none."""
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        path = settings.kubeconfig_path()
        in_pod = bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        use_in_cluster = settings.in_cluster == "true" or (
            settings.in_cluster == "auto" and not path.is_file() and in_pod
        )
        configuration = client.Configuration()
        if use_in_cluster:
            try:
                config.load_incluster_config(client_configuration=configuration)
            except ConfigException as exc:
                raise TargetError(
                    f"cannot use the in-cluster service account ({redact(str(exc))}); run inside a pod or "
                    "set K8S_IN_CLUSTER=false and KUBECONFIG"
                ) from None
            where = "in-cluster service account"
        else:
            if not path.is_file():
                source = f"KUBECONFIG={settings.kubeconfig}" if settings.kubeconfig else "~/.kube/config"
                raise TargetError(
                    f"no kubeconfig: {source} does not exist and this is not a pod with a service account; "
                    "log in to the cluster (kubectl/oc login) or set KUBECONFIG to a kubeconfig file"
                )
            context = settings.context or None
            try:
                config.load_kube_config(
                    config_file=str(path), context=context, client_configuration=configuration, persist_config=False
                )
            except ConfigException as exc:
                raise TargetError(f"kubeconfig {path} cannot be used: {_context_hint(path, context, exc)}") from None
            except (OSError, ValueError) as exc:
                raise TargetError(f"kubeconfig {path} cannot be read: {redact(str(exc))}") from None
            where = f"kubeconfig context {context!r}" if context else f"kubeconfig {path}"
        token = (configuration.api_key or {}).get("authorization") or (configuration.api_key or {}).get("BearerToken")
        if token:
            register_secret(token)
            register_secret(token.split(" ", 1)[-1])
        configuration.retries = 0  # an API call that fails is reported, not repeated behind our back
        return cls(client.ApiClient(configuration), settings, where)

    def close(self) -> None:
        """Close the connection pool."""
        self._api_client.close()

    @property
    def host(self) -> str:
        """The API server URL (no credentials)."""
        return str(self._api_client.configuration.host)

    # -- Tekton ---------------------------------------------------------------------------------------------
    def get_task(self, name: str, namespace: str) -> dict[str, Any] | None:
        """The Task, or None when it does not exist."""
        try:
            task: dict[str, Any] = self._call(
                "get",
                "tasks",
                namespace,
                self._custom.get_namespaced_custom_object,
                TEKTON_GROUP,
                TEKTON_VERSION,
                namespace,
                "tasks",
                name,
                missing_ok=True,
            )
        except _Missing:
            return None
        return task

    def create_pipelinerun(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a PipelineRun in the run namespace; the created object (with its name)."""
        return self._call(
            "create",
            "pipelineruns",
            self.namespace,
            self._custom.create_namespaced_custom_object,
            TEKTON_GROUP,
            TEKTON_VERSION,
            self.namespace,
            "pipelineruns",
            body,
        )

    def get_pipelinerun(self, name: str) -> dict[str, Any] | None:
        """The PipelineRun, or None when it is gone."""
        try:
            run: dict[str, Any] = self._call(
                "get",
                "pipelineruns",
                self.namespace,
                self._custom.get_namespaced_custom_object,
                TEKTON_GROUP,
                TEKTON_VERSION,
                self.namespace,
                "pipelineruns",
                name,
                missing_ok=True,
            )
        except _Missing:
            return None
        return run

    def watch_pipelineruns(self, label_selector: str, timeout: int) -> PipelineRunWatch:
        """Open a watch on the PipelineRuns matching the selector, for at most ``timeout`` seconds.

        Without a resource version the server first sends every matching PipelineRun as ``ADDED``, so a
        renewed watch never misses a change. ``close()`` on the result unblocks a pending read.
        """
        # The deadline spans the whole watch (the server ends it after ``timeout``), not just its opening.
        deadline = Deadline(timeout + self.settings.request_timeout, "watch pipelineruns",
                            "TEKTON_WATCH_TIMEOUT + TEKTON_REQUEST_TIMEOUT")
        try:
            with deadline.active():
                response = self._call(
                    "watch",
                    "pipelineruns",
                    self.namespace,
                    self._custom.list_namespaced_custom_object,
                    TEKTON_GROUP,
                    TEKTON_VERSION,
                    self.namespace,
                    "pipelineruns",
                    label_selector=label_selector,
                    watch=True,
                    timeout_seconds=timeout,
                    allow_watch_bookmarks=False,
                    _preload_content=False,
                    _request_timeout=timeout + self.settings.request_timeout,
                )
        except BaseException:
            deadline.close()
            raise
        return PipelineRunWatch(self, response, deadline)

    def cancel_pipelinerun(self, name: str) -> bool:
        """Ask Tekton to cancel the PipelineRun (merge patch ``spec.status: Cancelled``); False when gone."""
        try:
            self._call(
                "patch",
                "pipelineruns",
                self.namespace,
                self._custom.patch_namespaced_custom_object,
                TEKTON_GROUP,
                TEKTON_VERSION,
                self.namespace,
                "pipelineruns",
                name,
                {"spec": {"status": "Cancelled"}},
                missing_ok=True,
            )
        except _Missing:
            return False
        return True

    def delete_pipelinerun(self, name: str) -> bool:
        """Delete the PipelineRun (its TaskRuns, pods and claims go with it); False when already gone."""
        try:
            self._call(
                "delete",
                "pipelineruns",
                self.namespace,
                self._custom.delete_namespaced_custom_object,
                TEKTON_GROUP,
                TEKTON_VERSION,
                self.namespace,
                "pipelineruns",
                name,
                propagation_policy="Background",
                missing_ok=True,
            )
        except _Missing:
            return False
        return True

    # -- secrets -------------------------------------------------------------------------------------------
    def create_secret(self, body: dict[str, Any]) -> str:
        """Create a Secret in the run namespace (``metadata.generateName`` allowed); its name.

        Failures never quote the body: it holds the secret's values.
        """
        created = self._call(
            "create", "secrets", self.namespace, self._core.create_namespaced_secret, self.namespace, body
        )
        return str(self._api_client.sanitize_for_serialization(created).get("metadata", {}).get("name", ""))

    def delete_secret(self, name: str) -> bool:
        """Delete the Secret; False when already gone."""
        try:
            self._call(
                "delete",
                "secrets",
                self.namespace,
                self._core.delete_namespaced_secret,
                name,
                self.namespace,
                missing_ok=True,
            )
        except _Missing:
            return False
        return True

    # -- pods --------------------------------------------------------------------------------------------
    def list_pods(self, label_selector: str) -> list[dict[str, Any]]:
        """Pods in the run namespace matching the selector, as plain dicts (camelCase keys)."""
        result = self._call(
            "list",
            "pods",
            self.namespace,
            self._core.list_namespaced_pod,
            self.namespace,
            label_selector=label_selector,
        )
        items = self._api_client.sanitize_for_serialization(result).get("items") or []
        return [item for item in items if isinstance(item, dict)]

    def read_log(self, pod: str, container: str, tail_lines: int | None = None) -> str:
        """A container's log (the last ``tail_lines`` lines when given)."""
        kwargs: dict[str, Any] = {"container": container, "_preload_content": False}
        if tail_lines is not None:
            kwargs["tail_lines"] = tail_lines
        # Raw bytes: the client would json-decode a log that happens to be one JSON document. The deadline
        # covers reading the body too, which happens after the call returns.
        with self._deadline("get", "pods/log") as deadline:
            response = self._call(
                "get", "pods/log", self.namespace, self._core.read_namespaced_pod_log, pod, self.namespace, **kwargs
            )
            try:
                data = response.data
            except Exception as exc:
                if deadline.expired:
                    raise self._timed_out(deadline, "get", "pods/log") from None
                translated = self.connection_error(exc, "get", "pods/log")
                if translated is None:
                    raise
                raise translated from None
            finally:
                response.release_conn()
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)

    # -- errors ------------------------------------------------------------------------------------------
    def _call(
        self,
        verb: str,
        resource: str,
        namespace: str,
        func: Callable[..., T],
        *args: Any,
        missing_ok: bool = False,
        **kwargs: Any,
    ) -> T:
        from kubernetes.client.rest import ApiException

        kwargs.setdefault("_request_timeout", self.settings.request_timeout)
        current = current_deadline()
        scope: contextlib.AbstractContextManager[Deadline] = (
            contextlib.nullcontext(current) if current is not None else self._deadline(verb, resource)
        )
        with scope as deadline:
            try:
                return func(*args, **kwargs)
            except ApiException as exc:
                if exc.status == 404 and missing_ok and _is_object_not_found(exc):
                    raise _Missing from None
                raise self._api_error(exc, verb, resource, namespace) from None
            except Exception as exc:
                if deadline.expired:
                    raise self._timed_out(deadline, verb, resource) from None
                translated = self.connection_error(exc, verb, resource)
                if translated is None:
                    raise
                raise translated from None

    def _deadline(self, verb: str, resource: str) -> Deadline:
        """A total deadline of TEKTON_REQUEST_TIMEOUT for one call (urllib3's own timeout is per read)."""
        return Deadline(self.settings.request_timeout, f"{verb} {resource}", "TEKTON_REQUEST_TIMEOUT")

    def _timed_out(self, deadline: Deadline, verb: str, resource: str) -> TargetError:
        return TargetError(
            f"the Kubernetes API at {self.host} ({self.where}) did not {verb} {resource} within "
            f"{deadline.seconds:g}s ({deadline.setting}, a total deadline); check that the cluster is up "
            "and not overloaded"
        )

    def connection_error(self, exc: BaseException, verb: str, resource: str) -> TargetError | None:
        """A TargetError for a network failure (refused, reset, timed out, TLS); None for anything else."""
        names = {cls.__name__ for cls in type(exc).__mro__}
        if not names & {
            "MaxRetryError",
            "NewConnectionError",
            "ProtocolError",
            "ReadTimeoutError",
            "ConnectTimeoutError",
            "SSLError",
            "TimeoutError",
            "ConnectionError",
            "HTTPError",
        }:
            return None
        return TargetError(
            f"cannot reach the Kubernetes API at {self.host} ({self.where}) to {verb} {resource}: "
            f"{_short(type(exc).__name__ + ': ' + str(exc))}; check that the cluster is up and the "
            "kubeconfig points at it"
        )

    def _api_error(self, exc: Any, verb: str, resource: str, namespace: str) -> TargetError:
        status = int(exc.status or 0)
        message = _status_message(exc)
        group = "tekton.dev " if resource in {"pipelineruns", "tasks"} else ""
        if status == 401:
            return TargetError(
                f"the Kubernetes API at {self.host} rejected the credentials of {self.where} (401 Unauthorized); "
                "log in again (kubectl/oc login) or refresh the token"
            )
        if status == 403:
            return TargetError(
                f"forbidden: {self.where} may not {verb} {group}{resource} in namespace {namespace!r} "
                f"({message}); grant it with deploy/tekton/rbac.yaml (Role perf-tests-runner) or ask a "
                "cluster admin"
            )
        if status == 404 and resource in {"pipelineruns", "tasks"} and not _is_object_not_found(exc):
            return TargetError(
                f"the cluster does not serve {TEKTON_API_VERSION} {resource} ({message}); install Tekton "
                "Pipelines (v0.50 or later, OpenShift Pipelines 1.11 or later) or check that namespace "
                f"{namespace!r} exists"
            )
        if status == 404 and "namespaces" in message:
            return TargetError(f"namespace {namespace!r} does not exist ({message}); create it or set TEKTON_NAMESPACE")
        return TargetError(
            f"Kubernetes API call {verb} {group}{resource} in namespace {namespace!r} failed: HTTP {status} {message}"
        )


class PipelineRunWatch:
    """An open watch response: iterate for ``WatchEvent``s; ``close()`` from any thread ends it."""

    def __init__(self, client: TektonClient, response: Any, deadline: Deadline | None = None) -> None:
        self._client = client
        self._response = response
        self._deadline = deadline
        self._closed = False

    def __iter__(self) -> Iterator[WatchEvent]:
        from kubernetes.watch.watch import iter_resp_lines

        try:
            for line in iter_resp_lines(self._response):
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(event, dict):
                    continue
                obj = event.get("object")
                if event.get("type") == "ERROR":
                    # e.g. 410 Gone: the caller opens a new watch, which starts from the current state.
                    reason = obj.get("message", "") if isinstance(obj, dict) else ""
                    raise WatchExpired(_short(str(reason)))
                if isinstance(obj, dict):
                    yield WatchEvent(str(event.get("type", "")), obj)
        except (WatchExpired, GeneratorExit):
            raise
        except Exception as exc:
            if self._closed:
                return
            if self._deadline is not None and self._deadline.expired:
                raise self._client._timed_out(self._deadline, "watch", "pipelineruns") from None
            translated = self._client.connection_error(exc, "watch", "pipelineruns")
            if translated is None:
                raise
            raise translated from None
        finally:
            self.close()

    def close(self) -> None:
        """End the watch; safe to call from another thread while a read is pending, and twice."""
        if self._closed:
            return
        self._closed = True
        if self._deadline is not None:
            self._deadline.close()
        shutdown = getattr(self._response, "shutdown", None)  # urllib3 >= 2.3 unblocks a pending read
        try:
            if callable(shutdown):
                shutdown()
            self._response.close()
            self._response.release_conn()
        except Exception as exc:  # closing a broken connection is not worth failing for
            logger.debug("closing the watch failed: %s", redact(str(exc)))


class WatchExpired(Exception):
    """The server ended a watch with an ERROR event (410 Gone and the like)."""


class _Missing(Exception):
    """The object asked for does not exist (404 for that name)."""


def _status_message(exc: Any) -> str:
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body or "")
    try:
        data = json.loads(body)
    except ValueError:
        return _short(str(exc.reason or body))
    if isinstance(data, dict):
        return _short(str(data.get("message") or exc.reason or ""))
    return _short(str(exc.reason or ""))


def _is_object_not_found(exc: Any) -> bool:
    """True for "<resource> "<name>" not found" (not for an API path the server does not serve)."""
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body or "")
    try:
        data = json.loads(body)
    except ValueError:
        return False
    details = data.get("details") if isinstance(data, dict) else None
    return isinstance(details, dict) and bool(details.get("name")) and details.get("kind") != "namespaces"


def _context_hint(path: Any, context: str | None, exc: Exception) -> str:
    from kubernetes import config

    text = redact(str(exc))
    if context:
        try:
            contexts, _ = config.list_kube_config_contexts(config_file=str(path))
        except Exception:
            return text
        names = sorted(str(item.get("name")) for item in contexts or [])
        if context not in names:
            return f"context {context!r} not found (K8S_CONTEXT); available: {', '.join(names) or 'none'}"
    return text


def _short(text: str, limit: int = 400) -> str:
    text = redact(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."
