"""The Kubernetes calls the ``kubernetes`` stack makes, and nothing else, each under a total deadline.

``StackKubeClient`` wraps the real ``kubernetes`` client (kubeconfig with an optional context, or the
pod's service account). Each method is one API call; ``PERMISSIONS`` lists the verb and resource of
every one of them, which is exactly what ``deploy/tekton/harness/rbac.yaml`` grants (a test keeps them
equal). Every call runs under a ``Deadline`` (``STACK_REQUEST_TIMEOUT``, a total deadline, not urllib3's
per-read one); a failure is a ``TargetError`` that names the verb and resource (403: which one the
account lacks and the RBAC file that grants it). The bearer token is registered for redaction as soon as
it is read.

Settings (environment, read when connecting): ``KUBECONFIG``, ``K8S_CONTEXT``, ``K8S_IN_CLUSTER``
(``auto``/``true``/``false``) as for the Tekton executor, and ``STACK_REQUEST_TIMEOUT`` (seconds per call,
default 30).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from perf_tests.errors import ConfigurationError, TargetError
from perf_tests.logger.redaction import redact, register_secret
from perf_tests.targets.deadline import Deadline, install_deadline_pools

__all__ = ["CUSTOM_KINDS", "PERMISSIONS", "RBAC_FILE", "Missing", "Permission", "StackKubeClient", "StackSettings"]

T = TypeVar("T")
RBAC_FILE = "deploy/tekton/harness/rbac.yaml"


@dataclass(frozen=True)
class Permission:
    """One RBAC rule the stack needs: API group, resource, verbs, and whether it is cluster-scoped."""

    api_group: str
    resource: str
    verbs: tuple[str, ...]
    cluster: bool = False


CUSTOM_KINDS: dict[str, tuple[str, str]] = {
    "HTTPRoute": ("gateway.networking.k8s.io", "httproutes"),
    "InferencePool": ("inference.networking.k8s.io", "inferencepools"),
}
"""The manifests a stack may create besides its Deployment and Service: kind -> (API group, plural)."""

# Every call below, by RBAC verb; deploy/tekton/harness/rbac.yaml grants exactly these.
PERMISSIONS: tuple[Permission, ...] = (
    Permission("", "namespaces", ("create", "delete"), cluster=True),
    Permission("", "nodes", ("get",), cluster=True),
    Permission("apps", "deployments", ("create", "delete", "get")),
    Permission("", "services", ("create", "delete")),
    Permission("", "pods", ("list",)),
    Permission("", "pods/log", ("get",)),
    Permission("", "events", ("list",)),
    Permission("gateway.networking.k8s.io", "httproutes", ("create", "delete")),
    Permission("inference.networking.k8s.io", "inferencepools", ("create", "delete")),
)


class StackSettings(BaseSettings):
    """How the ``kubernetes`` stack reaches the cluster."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, populate_by_name=True)

    kubeconfig: str = Field(default="", validation_alias="KUBECONFIG")
    context: str = Field(default="", validation_alias="K8S_CONTEXT")
    in_cluster: Literal["auto", "true", "false"] = Field(default="auto", validation_alias="K8S_IN_CLUSTER")
    request_timeout: float = Field(default=30.0, gt=0, le=86400, allow_inf_nan=False,
                                   validation_alias="STACK_REQUEST_TIMEOUT")

    def kubeconfig_path(self) -> Path:
        """The first file of ``KUBECONFIG``, or ``~/.kube/config``."""
        first = self.kubeconfig.split(os.pathsep)[0].strip()
        return Path(first).expanduser() if first else Path.home() / ".kube" / "config"

    @classmethod
    def load(cls) -> StackSettings:
        """Read the settings; invalid values raise ``ConfigurationError`` naming the variable."""
        try:
            return cls()
        except ValidationError as exc:
            problems = [f"{str(err['loc'][0]).upper()}={err.get('input')!r}: {err['msg']}" for err in exc.errors()]
            raise ConfigurationError("invalid stack setting: " + "; ".join(problems)) from None


class Missing(Exception):
    """The object asked for does not exist (404)."""


class StackKubeClient:
    """Core, apps and custom-object calls of one stack (see the module docstring)."""

    def __init__(self, api_client: Any, settings: StackSettings, where: str, default_namespace: str) -> None:
        from kubernetes import client

        self._api_client = api_client
        self.settings = settings
        self.where = where
        self.default_namespace = default_namespace
        self._core = client.CoreV1Api(api_client)
        self._apps = client.AppsV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)
        pool_manager = getattr(getattr(api_client, "rest_client", None), "pool_manager", None)
        if pool_manager is not None:
            install_deadline_pools(pool_manager)

    @classmethod
    def connect(cls, settings: StackSettings | None = None) -> StackKubeClient:
        """Load the kubeconfig (or in-cluster config); ``TargetError`` when neither can be used."""
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        settings = settings or StackSettings.load()
        path = settings.kubeconfig_path()
        in_pod = bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        configuration = client.Configuration()
        namespace = "default"
        if settings.in_cluster == "true" or (settings.in_cluster == "auto" and not path.is_file() and in_pod):
            try:
                config.load_incluster_config(client_configuration=configuration)
            except ConfigException as exc:
                raise TargetError(f"cannot use the in-cluster service account ({redact(str(exc))}); run inside a "
                                  "pod or set K8S_IN_CLUSTER=false and KUBECONFIG") from None
            where = "in-cluster service account"
            ns_file = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
            if ns_file.is_file():
                namespace = ns_file.read_text(encoding="utf-8").strip() or namespace
        else:
            if not path.is_file():
                raise TargetError(f"no kubeconfig: {path} does not exist and this is not a pod with a service "
                                  "account; log in to the cluster (kubectl/oc login) or set KUBECONFIG")
            context = settings.context or None
            try:
                config.load_kube_config(config_file=str(path), context=context, client_configuration=configuration,
                                        persist_config=False)
                _, active = config.list_kube_config_contexts(config_file=str(path))
                contexts, _ = config.list_kube_config_contexts(config_file=str(path))
            except (ConfigException, OSError, ValueError) as exc:
                raise TargetError(f"kubeconfig {path} cannot be used: {redact(str(exc))}") from None
            chosen = next((c for c in contexts or [] if c.get("name") == context), active) if context else active
            namespace = str(((chosen or {}).get("context") or {}).get("namespace") or namespace)
            where = f"kubeconfig context {context!r}" if context else f"kubeconfig {path}"
        for key in ("authorization", "BearerToken"):
            token = (configuration.api_key or {}).get(key)
            if token:
                register_secret(token)
                register_secret(token.split(" ", 1)[-1])
        configuration.retries = 0  # a failed call is reported, not repeated behind our back
        return cls(client.ApiClient(configuration), settings, where, namespace)

    def close(self) -> None:
        """Close the connection pool."""
        self._api_client.close()

    @property
    def host(self) -> str:
        return str(self._api_client.configuration.host)

    def plain(self, obj: Any) -> dict[str, Any]:
        """A client model object as a plain dict with the API's camelCase keys."""
        data: dict[str, Any] = self._api_client.sanitize_for_serialization(obj)
        return data

    # -- namespaces and nodes -----------------------------------------------------------------------------
    def create_namespace(self, name: str, labels: dict[str, str]) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        self._call("create", "namespaces", name, self._core.create_namespace, body)

    def delete_namespace(self, name: str) -> bool:
        """Delete a namespace (everything in it goes with it); False when already gone."""
        return self._delete("namespaces", name, self._core.delete_namespace, name, propagation_policy="Background")

    def get_node(self, name: str) -> dict[str, Any]:
        return self.plain(self._call("get", "nodes", "", self._core.read_node, name))

    # -- the server ---------------------------------------------------------------------------------------
    def create_deployment(self, namespace: str, body: dict[str, Any]) -> None:
        self._call("create", "deployments", namespace, self._apps.create_namespaced_deployment, namespace, body)

    def get_deployment(self, namespace: str, name: str) -> dict[str, Any]:
        return self.plain(self._call("get", "deployments", namespace, self._apps.read_namespaced_deployment,
                                     name, namespace))

    def delete_deployment(self, namespace: str, name: str) -> bool:
        return self._delete("deployments", namespace, self._apps.delete_namespaced_deployment, name, namespace,
                            propagation_policy="Foreground")

    def create_service(self, namespace: str, body: dict[str, Any]) -> None:
        self._call("create", "services", namespace, self._core.create_namespaced_service, namespace, body)

    def delete_service(self, namespace: str, name: str) -> bool:
        return self._delete("services", namespace, self._core.delete_namespaced_service, name, namespace)

    def list_pods(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        result = self._call("list", "pods", namespace, self._core.list_namespaced_pod, namespace,
                            label_selector=label_selector)
        return [item for item in self.plain(result).get("items") or [] if isinstance(item, dict)]

    def list_events(self, namespace: str, object_name: str) -> list[dict[str, Any]]:
        """Events about one object, oldest first."""
        result = self._call("list", "events", namespace, self._core.list_namespaced_event, namespace,
                            field_selector=f"involvedObject.name={object_name}")
        items = [item for item in self.plain(result).get("items") or [] if isinstance(item, dict)]
        return sorted(items, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))

    def read_log(self, namespace: str, pod: str, container: str, tail_lines: int) -> str:
        with Deadline(self.settings.request_timeout, "get pods/log", "STACK_REQUEST_TIMEOUT") as deadline:
            response = self._call("get", "pods/log", namespace, self._core.read_namespaced_pod_log, pod, namespace,
                                  container=container, tail_lines=tail_lines, _preload_content=False,
                                  deadline=deadline)
            try:
                data = response.data
            finally:
                response.release_conn()
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)

    # -- manifests (HTTPRoute, InferencePool) ------------------------------------------------------------
    def create_custom(self, namespace: str, body: dict[str, Any]) -> None:
        group, version, plural = self._custom_kind(body)
        self._call("create", plural, namespace, self._custom.create_namespaced_custom_object, group, version,
                   namespace, plural, body)

    def delete_custom(self, namespace: str, kind: str, api_version: str, name: str) -> bool:
        group, version, plural = self._custom_kind({"kind": kind, "apiVersion": api_version})
        return self._delete(plural, namespace, self._custom.delete_namespaced_custom_object, group, version,
                            namespace, plural, name)

    @staticmethod
    def _custom_kind(body: dict[str, Any]) -> tuple[str, str, str]:
        kind = str(body.get("kind"))
        if kind not in CUSTOM_KINDS:
            raise TargetError(f"a stack manifest of kind {kind!r} is not supported; give {', '.join(CUSTOM_KINDS)}")
        group, _, version = str(body.get("apiVersion", "")).rpartition("/")
        return group or CUSTOM_KINDS[kind][0], version, CUSTOM_KINDS[kind][1]

    # -- calls and errors ---------------------------------------------------------------------------------
    def _delete(self, resource: str, namespace: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        try:
            self._call("delete", resource, namespace, func, *args, missing_ok=True, **kwargs)
        except Missing:
            return False
        return True

    def _call(self, verb: str, resource: str, namespace: str, func: Callable[..., T], *args: Any,
              missing_ok: bool = False, deadline: Deadline | None = None, **kwargs: Any) -> T:
        from kubernetes.client.rest import ApiException

        kwargs.setdefault("_request_timeout", self.settings.request_timeout)
        own = deadline is None
        active = deadline or Deadline(self.settings.request_timeout, f"{verb} {resource}", "STACK_REQUEST_TIMEOUT")
        try:
            with active.active():
                return func(*args, **kwargs)
        except ApiException as exc:
            if exc.status == 404 and missing_ok:
                raise Missing from None
            raise self._api_error(exc, verb, resource, namespace) from None
        except Exception as exc:
            if active.expired:
                raise TargetError(f"the Kubernetes API at {self.host} ({self.where}) did not {verb} {resource} within "
                                  f"{active.seconds:g}s (STACK_REQUEST_TIMEOUT, a total deadline); check that the "
                                  "cluster is up and not overloaded") from None
            names = {cls.__name__ for cls in type(exc).__mro__}
            if names & {"HTTPError", "MaxRetryError", "ProtocolError", "ConnectionError", "TimeoutError", "SSLError"}:
                raise TargetError(f"cannot reach the Kubernetes API at {self.host} ({self.where}) to {verb} "
                                  f"{resource}: {_short(type(exc).__name__ + ': ' + str(exc))}") from None
            raise
        finally:
            if own:
                active.close()

    def _api_error(self, exc: Any, verb: str, resource: str, namespace: str) -> TargetError:
        status = int(exc.status or 0)
        message = _status_message(exc)
        where = f" in namespace {namespace!r}" if namespace and resource not in ("namespaces", "nodes") else ""
        if status == 401:
            return TargetError(f"the Kubernetes API at {self.host} rejected the credentials of {self.where} (401 "
                               "Unauthorized); log in again (kubectl/oc login) or refresh the token")
        if status == 403:
            return TargetError(f"forbidden: {self.where} may not {verb} {resource}{where} ({message}); grant it with "
                               f"{RBAC_FILE} or ask a cluster admin")
        if status == 409:
            return TargetError(f"cannot {verb} {resource}{where}: it already exists ({message}); delete the leftover "
                               "or give the stack another namespace")
        return TargetError(f"Kubernetes API call {verb} {resource}{where} failed: HTTP {status} {message}")


def _status_message(exc: Any) -> str:
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body or "")
    try:
        data = json.loads(body)
    except ValueError:
        return _short(str(exc.reason or body))
    return _short(str(data.get("message") or exc.reason or "")) if isinstance(data, dict) else _short(str(exc.reason))


def _short(text: str, limit: int = 300) -> str:
    text = redact(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."
