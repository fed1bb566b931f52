"""The sidecar's parts in-process: framing, the writer, deadlines, error mapping."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from actors.sidecar._deadlines import Deadlines
from actors.sidecar._errors import failure_of
from actors.sidecar._framing import Oversized, read_lines
from actors.sidecar._writer import Writer
from messages import EngineStopped, ExecutionError, QueueFull, ResultTimeout


def lines_of(data: bytes, limit: int = 16) -> list[bytes | Oversized]:
    """What ``read_lines`` yields for ``data`` written to a pipe and closed."""
    read_end, write_end = os.pipe()

    def feed() -> None:
        os.write(write_end, data)
        os.close(write_end)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        return list(read_lines(read_end, limit))
    finally:
        writer.join()
        os.close(read_end)


def test_read_lines_splits_on_newlines_and_keeps_a_last_line_without_one() -> None:
    assert lines_of(b"a\r\nb\n\n  \nc") == [b"a", b"b", b"c"]


def test_read_lines_skips_a_line_over_the_limit_and_reads_on() -> None:
    assert lines_of(b"x" * 40 + b"\nok\n" + b"y" * 20) == [Oversized(40), b"ok", Oversized(20)]


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    """A pipe: (read end, write end); both closed after the test."""
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):
            os.close(fd)


def read_all(fd: int) -> list[str]:
    """Every line readable from ``fd`` until EOF."""
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks).decode().splitlines()


def test_the_writer_masks_secrets_also_in_their_json_escaped_form(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    writer = Writer(write_end, redact=['pa"ss', "token"])
    writer.put(json.dumps({"a": 'x pa"ss y', "b": "token"}))
    assert writer.close(10)
    os.close(write_end)
    assert read_all(read_end) == ['{"a": "x *** y", "b": "***"}']


def test_the_writer_holds_an_executions_events_until_released(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    writer = Writer(write_end)
    execution_id = uuid.uuid4()
    writer.hold(execution_id)
    writer.event(execution_id, "event")
    writer.put("response")
    writer.release([execution_id])
    assert writer.close(10)
    os.close(write_end)
    assert read_all(read_end) == ["response", "event"]


def test_the_writer_turns_quiet_when_its_reader_is_gone(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    os.close(read_end)
    writer = Writer(write_end)
    writer.put("lost")
    assert not writer.close(10)
    assert writer.broken
    writer.put("also lost")
    assert writer.backlog == 0


def test_deadlines_run_in_order_and_close_runs_the_rest() -> None:
    deadlines = Deadlines()
    ran: list[str] = []
    done = threading.Event()
    deadlines.at(0.0, lambda: ran.append("first"))
    deadlines.at(0.0, done.set)
    deadlines.at(time.monotonic() + 1e9, lambda: ran.append("at close"))
    assert done.wait(10)
    deadlines.close()
    assert ran == ["first", "at close"]


@pytest.mark.parametrize(
    ("error", "code", "kind"),
    [
        (QueueFull(3), -32003, "QueueFull"),
        (EngineStopped(), -32004, "EngineStopped"),
        (ResultTimeout(uuid.uuid4(), 1.0), -32005, "ResultTimeout"),
        (ExecutionError("the supervisor did not answer"), -32000, "ExecutionError"),
        (RuntimeError("a bug"), -32603, "RuntimeError"),
    ],
)
def test_each_error_maps_to_its_code_and_kind(error: Exception, code: int, kind: str) -> None:
    failure = failure_of(error)
    assert (failure.code, failure.info.kind) == (code, kind)
