"""Multi-user mode: the simulator says no like a Kubeflow profile deployment, to the real ``kfp.Client`` and to
the framework's own client (``NAMESPACE``, ``API_TOKEN``, ``API_COOKIE``).

Go code followed: ``ResourceManager.IsAuthorized`` (401 without an identity, 403 when the access review says
no), ``HTTPHeaderAuthenticator`` (``KUBEFLOW_USERID_HEADER``), ``TokenReviewAuthenticator`` (bearer tokens),
``CheckExperimentBelongsToNamespace`` / ``BaseRunServer.listRuns`` (the experiment's namespace wins) and
``GetValidExperimentNamespacePair`` (a run needs an experiment).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kfp
import kfp_server_api
import pytest
from pydantic import SecretStr

from perf_tests.config.settings import AuthSettings, ConnectionSettings
from perf_tests.server import EmbeddedKfpServer, SimulatorConfig
from perf_tests.targets.kfp_client import build_kfp_client

PIPELINE = Path(__file__).resolve().parents[3] / "test_data" / "pipeline_files" / "add_numbers.yaml"
ANN, BOB = "ann@example.com", "bob@example.com"
CONFIG = SimulatorConfig(
    task_seconds=0.05,
    pending_seconds=0.02,
    multi_user=True,
    namespace_access={ANN: ["team-a"], BOB: ["team-b"]},
    bearer_tokens={"token-of-ann": ANN},
    session_cookies={"authservice_session=bob-session": BOB},
)


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedKfpServer]:
    with EmbeddedKfpServer(CONFIG) as running:
        yield running


def _client(server: EmbeddedKfpServer, **options: Any) -> kfp.Client:
    return kfp.Client(host=server.url, **options)


def status_of(call: Any) -> int:
    with pytest.raises(kfp_server_api.ApiException) as caught:
        call()
    return int(caught.value.status)


def test_healthz_is_open_and_says_multi_user(server: EmbeddedKfpServer) -> None:
    client = _client(server)  # construction reads healthz without any identity
    assert client.get_kfp_healthz().multi_user is True


def test_no_identity_is_401_and_a_foreign_namespace_is_403(server: EmbeddedKfpServer) -> None:
    anonymous = _client(server)
    assert status_of(lambda: anonymous.list_experiments(namespace="team-a")) == 401
    ann = _client(server, existing_token="token-of-ann")
    assert status_of(lambda: ann.list_experiments(namespace="team-b")) == 403
    assert status_of(lambda: ann.create_experiment("nope", namespace="team-b")) == 403
    ann.list_experiments(namespace="team-a")  # allowed: team-a is ann's


def test_user_header_as_the_gateway_sets_it(server: EmbeddedKfpServer) -> None:
    client = _client(server)
    client._experiment_api.api_client.set_default_header("kubeflow-userid", BOB)
    experiment = client.create_experiment("bob-exp", namespace="team-b")
    assert experiment.namespace == "team-b"
    ann = _client(server, existing_token="token-of-ann")
    anns = ann.create_experiment("ann-exp", namespace="team-a").experiment_id
    assert status_of(lambda: client.get_experiment(experiment_id=anns)) == 403


def test_runs_need_an_experiment_and_lists_a_scope(server: EmbeddedKfpServer) -> None:
    ann = _client(server, existing_token="token-of-ann")
    experiment = ann.create_experiment("ann-runs", namespace="team-a")
    run = ann.create_run_from_pipeline_package(str(PIPELINE), experiment_id=experiment.experiment_id)
    # The experiment's namespace wins over a different namespace parameter.
    listed = ann._run_api.run_service_list_runs(experiment_id=experiment.experiment_id, namespace="team-b")
    assert [r.run_id for r in listed.runs] == [run.run_id]
    assert ann.get_run(run.run_id).experiment_id == experiment.experiment_id
    bob = _client(server, cookies="authservice_session=bob-session")
    assert status_of(lambda: bob.get_run(run.run_id)) == 403
    assert status_of(lambda: bob.list_runs(experiment_id=experiment.experiment_id)) == 403

    def raw(method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            f"{server.url}/apis/v2beta1/{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": "Bearer token-of-ann"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    status, body = raw("GET", "runs")
    assert (status, body["code"]) == (400, 3)
    assert "namespace" in body["message"]
    status, body = raw("POST", "runs", {"display_name": "r", "pipeline_spec": {}})
    assert (status, body["code"]) == (400, 3)
    assert "Experiment id can not be empty" in body["message"]
    status, body = raw("POST", "experiments", {"display_name": "no-namespace"})
    assert (status, body["code"]) == (400, 3)


@pytest.mark.parametrize(
    ("auth", "namespace"),
    [(AuthSettings(api_token=SecretStr("token-of-ann")), "team-a"),
     (AuthSettings(api_cookie=SecretStr("authservice_session=bob-session")), "team-b")],
    ids=["API_TOKEN", "API_COOKIE"],
)  # fmt: skip
def test_the_frameworks_client_paths_against_a_server_that_can_say_no(
    server: EmbeddedKfpServer, auth: AuthSettings, namespace: str
) -> None:
    """``MULTI_USER`` + ``NAMESPACE`` + a credential: allowed in the user's namespace, 403 in the other one,
    401 with no credential at all."""
    connection = ConnectionSettings(multi_user=True, namespace=namespace)
    client = build_kfp_client(server.url, connection, auth)
    try:
        assert client.list_experiments(namespace=namespace) is not None
        other = "team-b" if namespace == "team-a" else "team-a"
        assert status_of(lambda: client.list_experiments(namespace=other)) == 403
    finally:
        client._run_api.api_client.rest_client.pool_manager.clear()
    nobody = build_kfp_client(server.url, connection, AuthSettings())
    try:
        assert status_of(lambda: nobody.list_experiments(namespace=namespace)) == 401
    finally:
        nobody._run_api.api_client.rest_client.pool_manager.clear()


def test_tokens_and_cookies_are_masked_in_the_admin_config(server: EmbeddedKfpServer) -> None:
    with urllib.request.urlopen(f"{server.url}/_admin/config", timeout=10) as answer:
        text = answer.read().decode()
    assert "token-of-ann" not in text
    assert "bob-session" not in text
    assert json.loads(text)["bearer_tokens"] == {"***0": ANN}


def test_multi_user_embedded_default_allows_only_namespace() -> None:
    """``MULTI_USER=true`` without ``API_HOST``: the embedded default is multi-user and allows ``NAMESPACE``."""
    from perf_tests.targets.kfp_target import resolve_kfp_target

    connection = ConnectionSettings(multi_user=True, namespace="team-x")
    auth = AuthSettings(api_token=SecretStr("the-token"))
    target = resolve_kfp_target(connection, auth)
    try:
        assert target.multi_user is True
        client = build_kfp_client(target.url, connection, auth)
        wrong = build_kfp_client(target.url, connection, AuthSettings(api_token=SecretStr("wrong")))
        try:
            experiment = client.create_experiment("mine", namespace="team-x")
            assert experiment.namespace == "team-x"
            assert status_of(lambda: client.list_experiments(namespace="kubeflow")) == 403
            assert status_of(lambda: wrong.list_experiments(namespace="team-x")) == 401
        finally:
            for made in (client, wrong):
                made._run_api.api_client.rest_client.pool_manager.clear()
    finally:
        target.stop()
