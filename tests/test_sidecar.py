"""The sidecar's protocol end to end, through a real ``python -m actors serve --stdio``."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from messages import ExecutionEvent, ExecutionResult, ExecutionSummary
from tests._sidecar import ROOT, Sidecar

EVENTS: TypeAdapter[ExecutionEvent] = TypeAdapter(ExecutionEvent)


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[Sidecar]:
    """A sidecar with logs under the test's folder; closed (and checked) after the test."""
    client = Sidecar("-j", "4", log_dir=tmp_path / "logs")
    yield client
    assert client.close() == 0


def shell(command: str, **fields: Any) -> dict[str, Any]:
    """The params of execute_command for a shell command."""
    return {"command": {"kind": "shell", "command": command}, **fields}


def test_execute_command_streams_events_and_answers_the_result(sidecar: Sidecar) -> None:
    started = sidecar.call("execute_command", shell("echo hi; echo oops >&2"))
    execution_id = started["execution_id"]
    assert sidecar.terminal(execution_id)["type"] == "completed"
    events = [EVENTS.validate_python(e) for e in sidecar.events(execution_id)]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "started"
    assert any(e.type == "stdout" and e.lines == ("hi",) for e in events)
    assert any(e.type == "stderr" and e.lines == ("oops",) for e in events)
    result = ExecutionResult.model_validate(
        sidecar.call("get_execution_result", {"execution_id": execution_id, "wait_ms": 10_000})
    )
    assert (result.status, result.stdout, result.stderr) == ("completed", "hi", "oops")


def test_the_response_to_execute_command_comes_before_any_event_of_it(sidecar: Sidecar) -> None:
    ids = [sidecar.request("execute_command", shell(f"echo {n}")) for n in range(30)]
    answers = {i: sidecar.response(i)["result"]["execution_id"] for i in ids}
    for execution_id in answers.values():
        sidecar.terminal(execution_id)
    for request_id, execution_id in answers.items():
        position = next(
            n
            for n, m in enumerate(sidecar.seen)
            if isinstance(m, dict) and m.get("id") == request_id
        )
        first_event = next(
            n
            for n, m in enumerate(sidecar.seen)
            if isinstance(m, dict)
            and m.get("method") == "execution_event"
            and m["params"]["execution_id"] == execution_id
        )
        assert position < first_event


def test_get_execution_status_names_the_status(sidecar: Sidecar) -> None:
    execution_id = sidecar.call("execute_command", shell("true"))["execution_id"]
    sidecar.terminal(execution_id)
    answer = sidecar.call("get_execution_status", {"execution_id": execution_id})
    assert answer == {"execution_id": execution_id, "status": "completed"}


def test_a_waiting_get_execution_result_holds_up_no_other_call(sidecar: Sidecar) -> None:
    execution_id = sidecar.call("execute_command", shell("sleep 60"))["execution_id"]
    waiting = sidecar.request(
        "get_execution_result", {"execution_id": execution_id, "wait_ms": 60_000}
    )
    metrics = sidecar.call("get_concurrency_metrics")
    assert metrics["currently_running"] == 1
    assert not any(isinstance(m, dict) and m.get("id") == waiting for m in sidecar.seen)
    assert sidecar.call("cancel_execution", {"execution_id": execution_id}) == {"cancelled": True}
    assert sidecar.response(waiting)["result"]["status"] == "cancelled"


def test_get_execution_result_is_null_while_not_terminal(sidecar: Sidecar) -> None:
    execution_id = sidecar.call("execute_command", shell("sleep 60"))["execution_id"]
    assert sidecar.call("get_execution_result", {"execution_id": execution_id}) is None
    params = {"execution_id": execution_id, "wait_ms": 50}
    assert sidecar.call("get_execution_result", params) is None
    sidecar.call("cancel_execution", {"execution_id": execution_id})
    assert sidecar.terminal(execution_id)["type"] == "cancelled"


def test_list_executions_and_read_logs_and_cleanup(sidecar: Sidecar) -> None:
    execution_id = sidecar.call("execute_command", shell("echo logged"))["execution_id"]
    sidecar.terminal(execution_id)
    listed = sidecar.call("list_executions", {"status": "completed"})["executions"]
    assert [ExecutionSummary.model_validate(row).execution_id for row in listed] == [
        uuid.UUID(execution_id)
    ]
    assert sidecar.call("list_executions", {"status": "running"}) == {"executions": []}
    assert "logged" in sidecar.call("read_logs", {"execution_id": execution_id})["text"]
    assert sidecar.call("cleanup_old_executions") == {"evicted": 0}


def test_engine_errors_carry_their_code_and_kind(sidecar: Sidecar) -> None:
    unknown = {"execution_id": str(uuid.uuid4())}
    error = sidecar.error("get_execution_status", unknown)
    assert (error["code"], error["data"]["kind"]) == (-32001, "ExecutionNotFound")
    execution_id = sidecar.call("execute_command", shell("true"))["execution_id"]
    error = sidecar.error("execute_command", shell("true", id=execution_id))
    assert (error["code"], error["data"]["kind"]) == (-32002, "DuplicateExecution")
    error = sidecar.error("execute_command", shell("true", working_dir="/no/such/dir"))
    assert (error["code"], error["data"]["kind"]) == (-32602, "InvalidRequest")
    assert error["data"]["errors"][0]["loc"] == ["working_dir"]


def test_a_batch_is_answered_with_one_array_in_order(sidecar: Sidecar) -> None:
    sidecar.send_json(
        [
            {"jsonrpc": "2.0", "id": "a", "method": "get_concurrency_metrics"},
            {"jsonrpc": "2.0", "method": "get_concurrency_metrics"},  # a notification
            {"jsonrpc": "2.0", "id": "b", "method": "no_such_method"},
            42,
        ]
    )
    answer = sidecar.next_message()
    assert isinstance(answer, list)
    assert [m["id"] for m in answer] == ["a", "b", None]
    assert "max_concurrent" in answer[0]["result"]
    assert [m["error"]["code"] for m in answer[1:]] == [-32601, -32600]


BAD_LINES = [
    (b"this is not json", -32700, "JSONDecodeError"),
    (b"\xff\xfe{}", -32700, "UnicodeDecodeError"),
    (b"[" * 100_000 + b"]" * 100_000, -32700, "RecursionError"),
    (b"42", -32600, "InvalidRequest"),
    (b"[]", -32600, "InvalidRequest"),
    (b'{"jsonrpc": "1.0", "id": 1, "method": "shutdown"}', -32600, "InvalidRequest"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": 7}', -32600, "InvalidRequest"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "frobnicate"}', -32601, "MethodNotFound"),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "read_logs", "params": [1]}', -32602, "InvalidParams"),
    (
        b'{"jsonrpc": "2.0", "id": 1, "method": "read_logs", "params": {"execution_id": "x"}}',
        -32602,
        "ValidationError",
    ),
    (
        b'{"jsonrpc": "2.0", "id": 1, "method": "get_concurrency_metrics", "params": {"x": 1}}',
        -32602,
        "ValidationError",
    ),
]


@pytest.mark.parametrize(("line", "code", "kind"), BAD_LINES, ids=lambda v: str(v)[:30])
def test_each_bad_line_gets_its_error_and_the_sidecar_serves_on(
    sidecar: Sidecar, line: bytes, code: int, kind: str
) -> None:
    sidecar.send(line + b"\n")
    answer = sidecar.next_message()
    assert isinstance(answer, dict)
    assert (answer["error"]["code"], answer["error"]["data"]["kind"]) == (code, kind)
    if code in (-32700, -32600) and b'"id": 1' not in line:
        assert answer["id"] is None
    assert "max_concurrent" in sidecar.call("get_concurrency_metrics")


def test_invalid_params_list_pydantics_errors(sidecar: Sidecar) -> None:
    error = sidecar.error("execute_command", {"command": {"kind": "shell", "command": ""}})
    assert error["code"] == -32602
    assert error["data"]["errors"][0]["loc"][:2] == ["command", "shell"]
    assert all("input" not in e for e in error["data"]["errors"])


def test_an_env_error_names_the_variable_never_its_value(sidecar: Sidecar) -> None:
    secret = "hunter2-very-secret"
    error = sidecar.error("execute_command", shell("true", env={"TOKEN": f"{secret}\u0000"}))
    assert error["code"] == -32602
    assert "TOKEN" in json.dumps(error)
    assert secret not in json.dumps(error)


def test_a_line_over_the_cap_is_refused_without_holding_it(sidecar: Sidecar) -> None:
    sidecar.send(b"[" + b" " * (50 * 1024 * 1024) + b"]\n")
    answer = sidecar.next_message()
    assert isinstance(answer, dict)
    assert (answer["error"]["code"], answer["error"]["data"]["kind"]) == (-32700, "LineTooLong")
    import psutil

    assert psutil.Process(sidecar.proc.pid).memory_info().rss < 200 * 1024 * 1024
    assert "max_concurrent" in sidecar.call("get_concurrency_metrics")


def test_ten_thousand_requests_in_one_write_all_get_their_answer(sidecar: Sidecar) -> None:
    lines = b"".join(
        json.dumps({"jsonrpc": "2.0", "id": n, "method": "get_concurrency_metrics"}).encode()
        + b"\n"
        for n in range(10_000)
    )
    sidecar.send(lines)
    ids = {sidecar.next_message()["id"] for _ in range(10_000)}  # type: ignore[call-overload]
    assert ids == set(range(10_000))


def test_rpc_discover_describes_every_method_with_schemas_from_the_models(
    sidecar: Sidecar,
) -> None:
    document = sidecar.call("rpc.discover")
    assert document["openrpc"].startswith("1.")
    names = {m["name"] for m in document["methods"]}
    assert names >= {
        "execute_command",
        "get_execution_status",
        "get_execution_result",
        "cancel_execution",
        "list_executions",
        "get_concurrency_metrics",
        "cleanup_old_executions",
        "read_logs",
        "shutdown",
    }
    schemas = document["components"]["schemas"]
    assert ExecutionResult.model_json_schema(mode="serialization")["properties"].keys() == (
        schemas["ExecutionResult"]["properties"].keys()
    )


def test_the_schema_command_prints_the_discover_document() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "actors", "schema"],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    document = json.loads(proc.stdout)
    assert document["openrpc"].startswith("1.")
    assert "ExecutionRequest" in document["components"]["schemas"]


def test_shutdown_answers_null_and_the_sidecar_exits_0(tmp_path: Path) -> None:
    client = Sidecar(log_dir=tmp_path / "logs")
    execution_id = client.call("execute_command", shell("sleep 60"))["execution_id"]
    assert client.call("shutdown") is None
    assert client.terminal(execution_id)["type"] == "cancelled"
    assert client.proc.wait(30) == 0
    assert client.close() == 0
