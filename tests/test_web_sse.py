"""Server-Sent Events: one multiplexed stream, resume from a bounded buffer, many clients."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from actors.web import create_app
from actors.web._hub import EventHub
from actors.web._security import Redactor
from messages import Completed, ExecutionEvent, Stdout
from tests._web import TOKEN, Served, serve
from tests.conftest import EngineFactory

pytestmark = pytest.mark.timeout(90)


def sse_frames(lines: Iterator[str], until: str) -> list[dict[str, Any]]:
    """Parse SSE frames from ``lines`` until an event of type ``until`` arrived."""
    frames: list[dict[str, Any]] = []
    frame: dict[str, Any] = {}
    for line in lines:
        if not line:
            if "event" in frame:
                frames.append(frame)
                if frame["event"] == until:
                    return frames
            frame = {}
            continue
        name, _, value = line.partition(": ")
        if name in {"id", "event", "data"}:
            frame[name] = value
    raise AssertionError(f"the stream ended before {until!r}: {frames}")


def submit(served: Served, code: str) -> str:
    body = {"command": {"kind": "exec", "program": sys.executable, "args": ["-c", code]}}
    execution_id: str = served.client.post("/api/executions", json=body).json()["execution_id"]
    return execution_id


@pytest.fixture
def served(make_engine: EngineFactory) -> Iterator[Served]:
    engine = make_engine()
    with serve(create_app(engine, token=TOKEN, sse_buffer_events=50)) as s:
        yield s


def test_the_stream_carries_id_event_and_data_of_every_event(served: Served) -> None:
    with served.client.stream("GET", "/api/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        execution_id = submit(served, "print('a'); print('b')")
        frames = sse_frames(stream.iter_lines(), until="completed")
    mine = [f for f in frames if json.loads(f["data"])["execution_id"] == execution_id]
    assert mine[0]["event"] == "started"
    lines = [x for f in mine if f["event"] == "stdout" for x in json.loads(f["data"])["lines"]]
    assert lines == ["a", "b"]
    cursors = [int(f["id"].split(":")[1]) for f in frames]
    assert cursors == sorted(cursors)


def test_a_reconnect_with_last_event_id_gets_what_it_missed(served: Served) -> None:
    with served.client.stream("GET", "/api/events") as stream:
        first = submit(served, "print('one')")
        frames = sse_frames(stream.iter_lines(), until="completed")
    last_id = frames[-1]["id"]
    second = submit(served, "print('two')")
    served.client.get(f"/api/executions/{second}/result", params={"wait": 20})
    headers = {"Last-Event-ID": last_id}
    with served.client.stream("GET", "/api/events", headers=headers) as stream:
        missed = sse_frames(stream.iter_lines(), until="completed")
    assert {json.loads(f["data"])["execution_id"] for f in missed} == {second}
    assert first != second


def test_a_cursor_gone_from_the_buffer_gets_one_reset(served: Served) -> None:
    with served.client.stream("GET", "/api/events") as stream:
        submit(served, "print('x')")
        old = sse_frames(stream.iter_lines(), until="completed")[0]["id"]
    # 60 executions of 3+ events each overflow the 50-event buffer.
    ids = [submit(served, "pass") for _ in range(30)]
    for execution_id in ids:
        served.client.get(f"/api/executions/{execution_id}/result", params={"wait": 20})
    with served.client.stream("GET", "/api/events", headers={"Last-Event-ID": old}) as stream:
        lines = stream.iter_lines()
        frames = []
        for line in lines:
            if line.startswith("event: "):
                frames.append(line)
                break
    assert frames == ["event: reset"]
    with served.client.stream(
        "GET", "/api/events", headers={"Last-Event-ID": "other-epoch:3"}
    ) as stream:
        assert any(line == "event: reset" for line in _first_lines(stream.iter_lines(), 4))


def _first_lines(lines: Iterator[str], count: int) -> list[str]:
    taken: list[str] = []
    for line in lines:
        taken.append(line)
        if len(taken) >= count:
            break
    return taken


def test_a_stream_of_one_execution_starts_with_its_buffered_lines(served: Served) -> None:
    code = "import sys\nprint('early', flush=True)\nsys.stdin.readline()"
    body = {
        "command": {"kind": "exec", "program": sys.executable, "args": ["-c", code]},
        "timeout_ms": 20000,
    }
    execution_id = served.client.post("/api/executions", json=body).json()["execution_id"]
    deadline = time.monotonic() + 20
    while True:
        with served.client.stream(
            "GET", "/api/events", params={"execution_id": execution_id}
        ) as stream:
            lines = _first_lines(stream.iter_lines(), 7)
        if any("early" in line for line in lines) or time.monotonic() > deadline:
            break
    assert any(line == "event: started" for line in lines)
    assert any("early" in line for line in lines)
    served.client.post(f"/api/executions/{execution_id}/cancel")


def test_types_filter_the_stream_and_unknown_types_answer_422(served: Served) -> None:
    assert served.client.get("/api/events", params={"types": "stdout,bogus"}).status_code == 422
    with served.client.stream("GET", "/api/events", params={"types": "completed"}) as stream:
        submit(served, "print('x')")
        frames = sse_frames(stream.iter_lines(), until="completed")
    assert [f["event"] for f in frames] == ["completed"]


def test_200_clients_at_once_each_get_the_events_and_then_leave_no_trace(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine()
    app = create_app(engine, token=TOKEN)
    hub: EventHub = app.state.hub
    with serve(app) as served:

        async def one_client(
            client: httpx.AsyncClient, ready: asyncio.Event, counter: list[int]
        ) -> int:
            async with client.stream("GET", "/api/events", params={"types": "completed"}) as r:
                lines = r.aiter_lines()
                assert await anext(lines) == "retry: 2000"
                counter[0] += 1
                if counter[0] == 200:
                    ready.set()
                async for line in lines:
                    if line == "event: completed":
                        return 1
            return 0

        async def main() -> int:
            limits = httpx.Limits(max_connections=250)
            async with httpx.AsyncClient(
                base_url=served.url,
                headers={"Authorization": f"Bearer {TOKEN}"},
                limits=limits,
                timeout=60,
            ) as client:
                ready = asyncio.Event()
                counter = [0]
                tasks = [
                    asyncio.create_task(one_client(client, ready, counter)) for _ in range(200)
                ]
                await asyncio.wait_for(ready.wait(), 60)
                await client.post(
                    "/api/executions", json={"command": {"kind": "shell", "command": "true"}}
                )
                return sum(await asyncio.gather(*tasks))

        assert asyncio.run(main()) == 200
        deadline = time.monotonic() + 20
        while hub.clients and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hub.clients == 0
        assert served.client.get("/api/metrics").status_code == 200


def test_a_client_that_never_reads_stalls_nothing(served: Served) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    raw = socket.create_connection((host, int(port)))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.sendall(
        f"GET /api/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\n\r\n".encode()
    )
    try:
        code = "import sys\nfor i in range(20000): print('line', i, 'x' * 100)"
        execution_id = submit(served, code)
        result = served.client.get(f"/api/executions/{execution_id}/result", params={"wait": 60})
        assert result.json()["status"] == "completed"
        assert served.client.get("/api/metrics").status_code == 200
    finally:
        raw.close()


def test_a_client_that_disconnects_mid_stream_is_forgotten(served: Served) -> None:
    hub: EventHub = served.server.config.app.state.hub  # type: ignore[union-attr]
    for _ in range(20):
        with served.client.stream("GET", "/api/events") as stream:
            _first_lines(stream.iter_lines(), 1)
    deadline = time.monotonic() + 20
    while hub.clients and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hub.clients == 0


def test_too_many_streams_answer_503(make_engine: EngineFactory) -> None:
    engine = make_engine()
    with (
        serve(create_app(engine, token=TOKEN, max_sse_clients=1)) as served,
        served.client.stream("GET", "/api/events") as stream,
    ):
        lines = stream.iter_lines()  # closing this iterator would close the stream
        _first_lines(lines, 1)
        assert served.client.get("/api/events").status_code == 503


def _event(execution_id: UUID, seq: int, text: str) -> ExecutionEvent:
    return Stdout(execution_id=execution_id, seq=seq, timestamp=datetime.now(UTC), lines=(text,))


def test_the_hub_buffer_is_bounded_by_count_and_by_bytes() -> None:
    async def main() -> None:
        hub = EventHub(Redactor(()), max_events=10, max_bytes=2000)
        execution_id = uuid4()
        for seq in range(1, 101):
            hub.publish(_event(execution_id, seq, "x" * 50))
        held = hub._slice(0, 100, None, None).count(b"event: stdout")
        assert held <= 10
        hub.publish(_event(execution_id, 101, "y" * 1500))
        assert hub._bytes <= 2000
        frames = hub.stream(f"{hub.epoch}:1")
        chunks = await frames
        assert await anext(chunks) == b"retry: 2000\n\n"
        assert b"event: reset" in await anext(chunks)
        await hub.close()
        await chunks.aclose()

    asyncio.run(main())


def test_the_hub_redacts_every_frame() -> None:
    async def main() -> None:
        hub = EventHub(Redactor(['pa"ss']), max_events=10)
        execution_id = uuid4()
        hub.publish(_event(execution_id, 1, 'the pa"ss here'))
        hub.publish(
            Completed(
                execution_id=execution_id,
                seq=2,
                timestamp=datetime.now(UTC),
                exit_code=0,
                duration_ms=1,
            )
        )
        data = hub._slice(0, 2, None, None)
        assert b"pa" not in data.replace(b"pass", b"")
        assert b"the *** here" in data

    asyncio.run(main())


def test_sse_streams_end_when_the_server_stops(make_engine: EngineFactory) -> None:
    engine = make_engine()
    results: list[str] = []
    with serve(create_app(engine, token=TOKEN)) as served:
        headers = {"Authorization": f"Bearer {TOKEN}"}

        def reader() -> None:
            with (
                httpx.Client(base_url=served.url, headers=headers, timeout=30) as own,
                own.stream("GET", "/api/events") as stream,
            ):
                results.extend(stream.iter_lines())

        thread = threading.Thread(target=reader)
        thread.start()
        time.sleep(0.3)
    thread.join(20)
    assert not thread.is_alive()
    assert results[0] == "retry: 2000"
