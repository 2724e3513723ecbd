"""Bad input gets a 4xx with a message in the KFP error shape, never a 500 or a traceback."""

from __future__ import annotations

import base64
import http.client
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import yaml

from perf_tests.server import TARGET_HEADER, TARGET_NAME, EmbeddedKfpServer

PIPELINE = Path(__file__).resolve().parents[3] / "test_data" / "pipeline_files" / "add_numbers.yaml"
API = "/apis/v2beta1"
MISSING = "00000000-0000-0000-0000-000000000000"
NOT_JSON_TOKEN = quote(base64.b64encode(b"not json").decode())
WRONG_SHAPE_TOKEN = quote(base64.b64encode(b'{"m": 1}').decode())
SPEC = yaml.safe_load(PIPELINE.read_text())


class Http:
    """A raw keep-alive HTTP client, to send what kfp.Client never would."""

    def __init__(self, server: EmbeddedKfpServer) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any], http.client.HTTPResponse]:
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw), response

    def upload(self, path: str, filename: str, content: bytes, field: str = "uploadfile") -> tuple[int, dict[str, Any]]:
        boundary = "simulator-test-boundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        status, data, _ = self.request(
            "POST", path, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        return status, data


@pytest.fixture
def raw(fresh_kfp_server: EmbeddedKfpServer) -> Iterator[Http]:
    client = Http(fresh_kfp_server)
    yield client
    client.conn.close()
    by_status = fresh_kfp_server.stats()["by_status"]
    assert "500" not in by_status, by_status


def assert_error(status: int, body: dict[str, Any], expected_status: int, code: int, *words: str) -> None:
    assert status == expected_status, body
    if "error_message" in body:  # the upload endpoints' shape (PipelineUploadServer.writeErrorToResponse)
        assert set(body) == {"error_message", "error_details"}
        message = body["error_message"]
    else:  # grpc-gateway's google.rpc.Status, with KFP's UserError detail (UserError.GRPCStatus)
        assert body["code"] == code
        message = body["message"]
        status_type = "type.googleapis.com/google.rpc.Status"
        assert body["details"] in ([], [{"@type": status_type, "code": code, "message": message}])
    assert message
    assert "Traceback" not in message
    for word in words:
        assert word.lower() in message.lower(), message


def filter_query(value: str) -> str:
    return f"{API}/runs?{urlencode({'filter': value})}"


@pytest.mark.parametrize(
    ("path", "words"),
    [
        (f"{API}/runs/{MISSING}", ["run", MISSING]),
        (f"{API}/experiments/{MISSING}", ["experiment"]),
        (f"{API}/pipelines/{MISSING}", ["pipeline"]),
        (f"{API}/pipelines/{MISSING}/versions/{MISSING}", ["version"]),
        (f"{API}/recurringruns/{MISSING}", ["recurring run"]),
        (f"{API}/pipelines/names/{quote('no such/pipeline', safe='')}", ["no such/pipeline"]),
    ],
)
def test_unknown_ids_are_404(raw: Http, path: str, words: list[str]) -> None:
    status, body, response = raw.request("GET", path)
    assert_error(status, body, 404, 5, *words)
    assert response.getheader(TARGET_HEADER) == TARGET_NAME


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", f"{API}/runs/{MISSING}"),
        ("POST", f"{API}/runs/{MISSING}:terminate"),
        ("POST", f"{API}/runs/{MISSING}:retry"),
        ("POST", f"{API}/runs/{MISSING}:archive"),
        ("DELETE", f"{API}/experiments/{MISSING}"),
        ("POST", f"{API}/experiments/{MISSING}:archive"),
        ("DELETE", f"{API}/pipelines/{MISSING}"),
        ("POST", f"{API}/recurringruns/{MISSING}:enable"),
        ("DELETE", f"{API}/recurringruns/{MISSING}"),
    ],
)
def test_actions_on_unknown_ids_are_404(raw: Http, method: str, path: str) -> None:
    status, body, _ = raw.request(method, path)
    assert_error(status, body, 404, 5)


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        (f"{API}/runs", b"not json", ["not valid json"]),
        (f"{API}/runs", b"[1, 2]", ["json object"]),
        (f"{API}/runs", b"", ["empty"]),
        (f"{API}/runs", b'{"pipeline_spec": {"root": {}}}', ["display_name"]),
        (f"{API}/runs", b'{"display_name": "x"}', ["pipeline_spec"]),
        (f"{API}/runs", b'{"display_name": "x", "pipeline_spec": "yaml?"}', ["pipeline spec"]),
        (f"{API}/runs", b'{"display_name": "x", "pipeline_spec": {"root": {"dag": {}}}}', ["pipelineinfo"]),
        (f"{API}/runs", b'{"display_name": 5, "pipeline_spec": {}}', ["display_name must be a string"]),
        (f"{API}/runs", b'{"display_name": "x", "runtime_config": [], "pipeline_spec": {}}', ["runtime_config"]),
        (f"{API}/experiments", b'{"display_name": ""}', ["display_name"]),
        (f"{API}/experiments", b'{"description": 3, "display_name": "e"}', ["description"]),
        (f"{API}/pipelines", b'{"description": "no name"}', ["name"]),
        (f"{API}/pipelines/create", b'{"pipeline": {"name": "p"}, "pipeline_version": {"name": "v"}}', ["package_url"]),
        (f"{API}/recurringruns", b'{"display_name": "r", "pipeline_spec": {}}', ["pipeline"]),
    ],
)
def test_malformed_bodies_are_400(raw: Http, path: str, body: bytes, words: list[str]) -> None:
    status, data, _ = raw.request("POST", path, body, {"Content-Type": "application/json"})
    assert_error(status, data, 400, 3, *words)


def test_run_in_unknown_experiment_is_404(raw: Http) -> None:
    spec = SPEC
    body = json.dumps({"display_name": "x", "experiment_id": MISSING, "pipeline_spec": spec}).encode()
    status, data, _ = raw.request("POST", f"{API}/runs", body, {"Content-Type": "application/json"})
    assert_error(status, data, 404, 5, "experiment")


@pytest.mark.parametrize(
    ("trigger", "words"),
    [
        ({"cron_schedule": {"cron": "61 * * * * *"}}, ["cron"]),
        ({"cron_schedule": {"cron": "every minute"}}, ["cron"]),
        ({"periodic_schedule": {"interval_second": "0"}}, ["interval_second"]),
        ({"periodic_schedule": {"interval_second": "soon"}}, ["interval_second"]),
        ({}, ["trigger"]),
        ({"cron_schedule": {"cron": "* * * * * *", "start_time": "yesterday"}}, ["start_time"]),
    ],
)
def test_bad_recurring_run_triggers_are_400(raw: Http, trigger: dict[str, Any], words: list[str]) -> None:
    spec = SPEC
    body = json.dumps({"display_name": "r", "pipeline_spec": spec, "trigger": trigger}).encode()
    status, data, _ = raw.request("POST", f"{API}/recurringruns", body, {"Content-Type": "application/json"})
    assert_error(status, data, 400, 3, *words)


def _zip(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("filename", "content", "words"),
    [
        ("pipeline.yaml", b"a: [unclosed", ["yaml"]),
        ("pipeline.yaml", b"\xff\xfe\x00binary", ["yaml"]),
        ("pipeline.yaml", b"just a string", ["pipeline spec"]),
        ("pipeline.yaml", b"kind: Workflow\napiVersion: argoproj.io/v1alpha1\n", ["v1"]),
        ("pipeline.yaml", b"", ["empty"]),
        ("pipeline.tar.gz", b"\x1f\x8bnot really gzip", ["tar.gz"]),
        ("pipeline.zip", b"PK\x03\x04broken", ["zip"]),
        ("pipeline.zip", _zip("readme.txt", b"hello"), ["no pipeline yaml"]),
    ],
)
def test_bad_pipeline_packages_are_400(raw: Http, filename: str, content: bytes, words: list[str]) -> None:
    status, data = raw.upload(f"{API}/pipelines/upload?name=bad", filename, content)
    assert_error(status, data, 400, 3, *words)


def test_zipped_pipeline_uploads(raw: Http) -> None:
    status, data = raw.upload(
        f"{API}/pipelines/upload?name=zipped", "p.zip", _zip("pipeline.yaml", PIPELINE.read_bytes())
    )
    assert status == 200, data
    assert data["display_name"] == "zipped"


def test_broken_multipart_is_400(raw: Http) -> None:
    headers = {"Content-Type": "multipart/form-data; boundary=xyz"}
    status, data, _ = raw.request("POST", f"{API}/pipelines/upload?name=m", b"--xyz\r\ngarbage without end", headers)
    assert_error(status, data, 400, 3)
    status, data, _ = raw.request("POST", f"{API}/pipelines/upload?name=m", b"{}", {"Content-Type": "application/json"})
    assert_error(status, data, 400, 3, "multipart")
    status, data = raw.upload(f"{API}/pipelines/upload?name=m", "p.yaml", PIPELINE.read_bytes(), field="other")
    assert_error(status, data, 400, 3, "uploadfile")
    status, data = raw.upload(f"{API}/pipelines/upload_version?name=v", "p.yaml", PIPELINE.read_bytes())
    assert_error(status, data, 400, 3, "pipelineid")
    status, data = raw.upload(f"{API}/pipelines/upload_version?name=v&pipelineid={MISSING}", "p.yaml", b"x: 1")
    assert_error(status, data, 404, 5, "pipeline")


@pytest.mark.parametrize(
    ("path", "words"),
    [
        (filter_query("{not json"), ["filter"]),
        (filter_query("[]"), ["filter"]),
        (filter_query('{"predicates": {}}'), ["predicates"]),
        (filter_query('{"predicates": [{"key": "display_name", "operation": 1}]}'), ["value"]),
        (filter_query('{"predicates": [{"key": "nope", "operation": 1, "string_value": "x"}]}'), ["nope"]),
        (filter_query('{"predicates": [{"key": "name", "operation": 4, "string_value": "x"}]}'), ["operation"]),
        (filter_query('{"predicates": [{"key": "name", "operation": "LIKE", "string_value": "x"}]}'), ["operation"]),
        (filter_query('{"predicates": [{"key": "name", "operation": 8, "string_value": "x"}]}'), ["IN"]),
        (filter_query('{"predicates": [{"key": "created_at", "operation": 3, "string_value": "x"}]}'), ["timestamp"]),
        (filter_query('{"predicates": [{"key": "created_at", "operation": 9, "string_value": "1"}]}'), ["substring"]),
        (filter_query('{"predicates": [{"key": "name", "operation": 1, "int_value": "x"}]}'), ["integer"]),
        (filter_query('{"predicates": [{"key": "name", "operation": 1, "string_value": 1}]}'), ["string"]),
        (filter_query('{"predicates": [{"key": "name", "operation": 1, "bogus": 1}]}'), ["bogus"]),
        (f"{API}/runs?page_token=abc", ["page token"]),
        (f"{API}/runs?page_token={NOT_JSON_TOKEN}", ["page token"]),
        (f"{API}/runs?page_token={WRONG_SHAPE_TOKEN}", ["page token"]),
        (f"{API}/runs?page_size=-1", ["page size"]),
        (f"{API}/runs?page_size=lots", ["page_size"]),
        (f"{API}/runs?sort_by=color", ["sorting field"]),
        (f"{API}/runs?sort_by={quote('created_at sideways')}", ["sort by"]),
        (f"{API}/experiments?sort_by={quote('a b c')}", ["sort by"]),
        (f"{API}/pipelines?filter={quote('{bad')}", ["filter"]),
        (f"{API}/recurringruns?page_token=%%%", ["page token"]),
    ],
)
def test_bad_list_parameters_are_400(raw: Http, path: str, words: list[str]) -> None:
    status, body, _ = raw.request("GET", path)
    assert_error(status, body, 400, 3, *words)


def test_page_token_of_another_list_or_sort_is_400(raw: Http) -> None:
    for name in ("a", "b", "c"):
        raw.request("POST", f"{API}/experiments", json.dumps({"display_name": name}).encode())
    status, page, _ = raw.request("GET", f"{API}/experiments?page_size=1")
    assert status == 200
    token = quote(page["next_page_token"], safe="")
    status, body, _ = raw.request("GET", f"{API}/runs?page_token={token}")
    assert_error(status, body, 400, 3, "page token")
    status, body, _ = raw.request("GET", f"{API}/experiments?page_token={token}&sort_by=name")
    assert_error(status, body, 400, 3, "page token")
    status, body, _ = raw.request("GET", f"{API}/experiments?page_token={token}&sort_by=created_at&page_size=1")
    assert status == 200
    assert len(body["experiments"]) == 1


def test_unknown_paths_and_methods(raw: Http) -> None:
    status, body, _ = raw.request("GET", f"{API}/nothing-here")
    assert_error(status, body, 404, 5)
    status, body, _ = raw.request("GET", "/favicon.ico")
    assert_error(status, body, 404, 5)
    status, body, _ = raw.request("PUT", f"{API}/runs")
    assert status == 405
    assert body["code"] == 12
    status, body, _ = raw.request("POST", f"{API}/runs/{MISSING}:explode")
    assert status in (404, 405)


def test_invalid_admin_config_is_400(raw: Http) -> None:
    status, body, _ = raw.request("PUT", "/_admin/config", b'{"error_probability": 1.5}')
    assert_error(status, body, 400, 3, "error_probability")
    status, body, _ = raw.request("PUT", "/_admin/config", b'{"no_such_setting": 1}')
    assert_error(status, body, 400, 3, "no_such_setting")
    status, body, _ = raw.request("PUT", "/_admin/config", b'{"error_probability": 0.6, "drop_probability": 0.6}')
    assert_error(status, body, 400, 3, "exceed")
    status, body, _ = raw.request("PUT", "/_admin/config", b"nope")
    assert_error(status, body, 400, 3, "json")


def test_delete_pipeline_with_versions_is_refused(raw: Http) -> None:
    status, pipeline = raw.upload(f"{API}/pipelines/upload?name=keep", "p.yaml", PIPELINE.read_bytes())
    assert status == 200
    status, body, _ = raw.request("DELETE", f"{API}/pipelines/{pipeline['pipeline_id']}")
    assert_error(status, body, 400, 3, "version")  # ResourceManager.DeletePipeline: NewInvalidInputError
    status, body, _ = raw.request("DELETE", f"{API}/pipelines/{pipeline['pipeline_id']}?cascade=true")
    assert status == 200
    assert body == {}


def test_retry_of_a_running_run_is_refused(raw: Http, fresh_kfp_server: EmbeddedKfpServer) -> None:
    fresh_kfp_server.configure(task_seconds=30)
    spec = SPEC
    body = json.dumps({"display_name": "long", "pipeline_spec": spec}).encode()
    status, run, _ = raw.request("POST", f"{API}/runs", body)
    assert status == 200
    status, data, _ = raw.request("POST", f"{API}/runs/{run['run_id']}:retry")
    assert_error(status, data, 409, 10, "retry")  # GenerateRetryExecution: NewBadRequestError (Aborted)
