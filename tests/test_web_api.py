"""The web app's REST API and its guard, against a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest

from actors import ExecutionEngine
from actors.web import create_app
from tests._web import TOKEN, Served, serve
from tests.conftest import EngineFactory

pytestmark = pytest.mark.timeout(60)

SECRET = "hunter2-secret"


@pytest.fixture
def web(make_engine: EngineFactory) -> Iterator[tuple[Served, ExecutionEngine]]:
    engine = make_engine(redact=(SECRET,), max_concurrent_executions=2, max_queued_executions=1)
    with serve(create_app(engine, token=TOKEN, max_body_bytes=64 * 1024)) as served:
        yield served, engine


def shell(command: str, **fields: object) -> dict[str, object]:
    return {"command": {"kind": "shell", "command": command}, **fields}


def py_body(code: str) -> dict[str, object]:
    return {"command": {"kind": "exec", "program": sys.executable, "args": ["-c", code]}}


def test_submit_answers_202_with_the_id_and_the_result_arrives(
    web: tuple[Served, ExecutionEngine],
) -> None:
    served, _ = web
    response = served.client.post("/api/executions", json=shell("echo hello"))
    assert response.status_code == 202
    execution_id = response.json()["execution_id"]
    result = served.client.get(f"/api/executions/{execution_id}/result", params={"wait": 20})
    assert result.status_code == 200
    assert result.json()["stdout"] == "hello"
    assert result.json()["status"] == "completed"


def test_a_running_execution_answers_202_with_its_status_until_it_ends(
    web: tuple[Served, ExecutionEngine],
) -> None:
    served, _ = web
    execution_id = served.client.post("/api/executions", json=shell("sleep 30")).json()[
        "execution_id"
    ]
    pending = served.client.get(f"/api/executions/{execution_id}/result", params={"wait": 0.2})
    assert pending.status_code == 202
    assert pending.json()["status"] in {"pending", "running"}
    assert served.client.post(f"/api/executions/{execution_id}/cancel").json() == {
        "cancelled": True
    }
    ended = served.client.get(f"/api/executions/{execution_id}/result", params={"wait": 20})
    assert ended.json()["status"] == "cancelled"
    assert served.client.post(f"/api/executions/{execution_id}/cancel").json() == {
        "cancelled": False
    }


def test_list_summary_metrics_and_logs_answer_as_the_models_serialise(
    web: tuple[Served, ExecutionEngine],
) -> None:
    served, _ = web
    execution_id = served.client.post("/api/executions", json=shell("echo one")).json()[
        "execution_id"
    ]
    served.client.get(f"/api/executions/{execution_id}/result", params={"wait": 20})
    rows = served.client.get("/api/executions", params={"status": "completed"}).json()
    assert [r["execution_id"] for r in rows] == [execution_id]
    assert served.client.get("/api/executions", params={"status": "failed"}).json() == []
    summary = served.client.get(f"/api/executions/{execution_id}").json()
    assert summary["command"] == "echo one"
    assert served.client.get("/api/metrics").json()["total_finished"] == 1
    logs = served.client.get(f"/api/executions/{execution_id}/logs")
    assert logs.headers["content-type"].startswith("text/plain")
    assert "one" in logs.text


def test_unknown_ids_answer_404_and_malformed_ids_422(web: tuple[Served, ExecutionEngine]) -> None:
    served, _ = web
    unknown = uuid4()
    for method, path in [
        ("GET", f"/api/executions/{unknown}"),
        ("GET", f"/api/executions/{unknown}/result"),
        ("GET", f"/api/executions/{unknown}/logs"),
        ("POST", f"/api/executions/{unknown}/cancel"),
        ("GET", f"/api/events?execution_id={unknown}"),
    ]:
        response = served.client.request(method, path)
        assert response.status_code == 404, path
        assert str(unknown) in response.json()["detail"]
    assert served.client.get("/api/executions/not-a-uuid").status_code == 422


def test_a_duplicate_id_answers_409_and_a_full_queue_503(
    web: tuple[Served, ExecutionEngine],
) -> None:
    served, _ = web
    first = served.client.post("/api/executions", json=shell("sleep 30")).json()["execution_id"]
    again = served.client.post("/api/executions", json=shell("true", id=first))
    assert again.status_code == 409
    served.client.post("/api/executions", json=shell("sleep 30"))
    served.client.post("/api/executions", json=shell("sleep 30"))  # the one queued slot
    full = served.client.post("/api/executions", json=shell("sleep 30"))
    assert full.status_code == 503
    assert "max_queued_executions" in full.json()["detail"]


def test_bad_bodies_answer_422_naming_the_field(web: tuple[Served, ExecutionEngine]) -> None:
    served, _ = web
    headers = {"content-type": "application/json"}
    malformed = served.client.post("/api/executions", content=b'{"command": ', headers=headers)
    assert malformed.status_code == 422
    wrong_type = served.client.post("/api/executions", json=shell("x", timeout_ms="soon"))
    assert wrong_type.status_code == 422
    assert wrong_type.json()["detail"][0]["loc"] == ["body", "timeout_ms"]
    missing = served.client.post("/api/executions", json={"command": {"kind": "nope"}})
    assert missing.status_code == 422
    no_dir = served.client.post("/api/executions", json=shell("x", working_dir="/no/such/dir"))
    assert no_dir.status_code == 422
    assert "working_dir" in no_dir.json()["detail"]


def test_an_env_value_never_comes_back_in_a_422(web: tuple[Served, ExecutionEngine]) -> None:
    served, _ = web
    value = "s3cr3t-value\x00tail"
    response = served.client.post("/api/executions", json=shell("x", env={"API_KEY": value}))
    assert response.status_code == 422
    assert "s3cr3t-value" not in response.text
    assert "API_KEY" in response.text
    assert "input" not in response.json()["detail"][0]


def test_secrets_and_the_token_are_redacted_from_everything_served(
    web: tuple[Served, ExecutionEngine],
) -> None:
    served, _ = web
    command = f"echo {SECRET} {TOKEN}; echo {SECRET} >&2"
    execution_id = served.client.post("/api/executions", json=shell(command)).json()["execution_id"]
    result = served.client.get(f"/api/executions/{execution_id}/result", params={"wait": 20})
    summary = served.client.get(f"/api/executions/{execution_id}")
    logs = served.client.get(f"/api/executions/{execution_id}/logs")
    bad = served.client.post("/api/executions", json=shell(f"{SECRET}\x00"))
    for response in (result, summary, logs, bad):
        assert SECRET not in response.text
        assert TOKEN not in response.text
    assert result.json()["stdout"] == "*** ***"


def test_every_request_needs_the_token(web: tuple[Served, ExecutionEngine]) -> None:
    served, _ = web
    for path in ["/", "/api/metrics", "/openapi.json", "/static/app.js", "/api/events"]:
        assert httpx.get(served.url + path).status_code == 401, path
    wrong = httpx.get(served.url + "/api/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert "nope" not in wrong.text


def test_the_token_in_the_page_url_becomes_an_httponly_cookie(
    web: tuple[Served, ExecutionEngine],
) -> None:
    served, _ = web
    with httpx.Client(base_url=served.url) as browser:
        first = browser.get("/", params={"token": TOKEN})
        assert first.status_code == 303
        assert first.headers["location"] == "/"
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        page = browser.get("/")
        assert page.status_code == 200
        assert "<form" in page.text
        assert browser.get("/api/metrics").status_code == 200


def test_a_foreign_origin_or_host_is_refused_403(web: tuple[Served, ExecutionEngine]) -> None:
    served, _ = web
    own = served.url
    assert served.client.get("/api/metrics", headers={"Origin": own}).status_code == 200
    for origin in ["http://evil.example", "null", own.replace("127.0.0.1", "localhost")]:
        response = served.client.post(
            "/api/executions", json=shell("true"), headers={"Origin": origin}
        )
        assert response.status_code == 403, origin


def test_allowed_hosts_refuse_a_rebound_dns_name(make_engine: EngineFactory) -> None:
    engine = make_engine()
    app = create_app(engine, token=TOKEN, allowed_hosts=["127.0.0.1"])
    with serve(app) as served:
        assert served.client.get("/api/metrics").status_code == 200
        rebound = served.client.get("/api/metrics", headers={"Host": "attacker.example"})
        assert rebound.status_code == 403


def test_a_huge_body_answers_413_also_when_chunked(web: tuple[Served, ExecutionEngine]) -> None:
    served, _ = web
    huge = shell("x", stdin="a" * 100_000)
    assert served.client.post("/api/executions", json=huge).status_code == 413

    def chunks() -> Iterator[bytes]:
        yield b'{"command": {"kind": "shell", "command": "x"}, "stdin": "'
        for _ in range(100):
            yield b"a" * 1024
        yield b'"}'

    chunked = served.client.post(
        "/api/executions", content=chunks(), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 413
    assert served.client.get("/api/metrics").json()["total_submitted"] == 0


def test_responses_carry_a_strict_content_security_policy(
    web: tuple[Served, ExecutionEngine],
) -> None:
    served, _ = web
    page = served.client.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"


def test_openapi_documents_every_route(web: tuple[Served, ExecutionEngine]) -> None:
    served, _ = web
    spec = served.client.get("/openapi.json").json()
    paths = spec["paths"]
    assert set(paths) >= {
        "/api/executions",
        "/api/executions/{execution_id}",
        "/api/executions/{execution_id}/result",
        "/api/executions/{execution_id}/cancel",
        "/api/executions/{execution_id}/logs",
        "/api/metrics",
        "/api/events",
    }
    assert "202" in paths["/api/executions"]["post"]["responses"]
    assert "409" in paths["/api/executions"]["post"]["responses"]


def test_an_empty_token_is_refused_at_creation(engine: ExecutionEngine) -> None:
    with pytest.raises(ValueError, match="token"):
        create_app(engine, token="")


def test_the_engine_serves_on_after_bad_requests_and_leaves_no_threads(
    web: tuple[Served, ExecutionEngine],
) -> None:
    served, _ = web
    before = threading.active_count()
    for _ in range(50):
        served.client.post(
            "/api/executions", content=b"\xff\xfe", headers={"content-type": "application/json"}
        )
        served.client.get(f"/api/executions/{uuid4()}/result")
    response = served.client.post("/api/executions", json=py_body("print('still here')"))
    execution_id = response.json()["execution_id"]
    result = served.client.get(f"/api/executions/{execution_id}/result", params={"wait": 20})
    assert result.json()["stdout"] == "still here"
    # anyio's worker threads are pooled: a bounded handful, not one per request.
    assert threading.active_count() <= before + 45
