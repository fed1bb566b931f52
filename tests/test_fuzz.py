"""Fuzzing with hypothesis: the line splitter, redaction, and validation of JSON input.

``tests/test_streams.py`` already checks that any chunking gives the lines of
the whole text (no secrets, unlimited lines) and that chunking does not change
truncation. These add long lines cut at ``max_line_length``, CR/LF pairs and
secrets falling on chunk boundaries, the spill strategy, and the promise that
no whole secret ever comes out. The JSON part feeds random text, random JSON
and near-valid objects to every model that reads JSON.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from actors._streams import Redactor, StreamCollector
from messages import (
    Cancel,
    Command,
    ConcurrencyMetrics,
    ExecutionConfig,
    ExecutionEvent,
    ExecutionRequest,
    ExecutionResult,
    ExecutionSummary,
    GetMetrics,
    GetResult,
    GetStatus,
    ListExecutions,
    OversizedOutputStrategy,
    RunCleanup,
    Submit,
)

TRUNCATE = OversizedOutputStrategy.TRUNCATE_WITH_WARNING
FAIL = OversizedOutputStrategy.FAIL_EXECUTION
SPILL = OversizedOutputStrategy.STREAM_TO_FILE
TRUNCATION_WARNING = "[output truncated"
# Moderate for CI; FUZZ_EXAMPLES=5000 digs deeper.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "250"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- byte streams ---------------------------------------------------------------------------------

# Secrets never contain "*" (the mask) or a line break, as real secrets do not.
secret_text = st.text(alphabet="abcé", min_size=2, max_size=8)
secret_sets = st.lists(secret_text, min_size=1, max_size=3, unique=True)


@st.composite
def streams(draw: st.DrawFn, *, newlines: bool = True) -> tuple[bytes, tuple[str, ...]]:
    """Bytes mixing whole secrets, fillers, CR/LF breaks, split and invalid UTF-8."""
    secrets = tuple(draw(secret_sets))
    tokens = [b"x", b"a", b"b", b"c", b"\xc3\xa9", b"\xe2\x82\xac", b"\xff", b"\xc3", b"\r"]
    if newlines:
        tokens += [b"\n", b"\r\n", b"\n\n"]
    token = st.one_of(
        st.sampled_from(tokens),
        st.sampled_from(secrets).map(lambda s: s.encode()),
        st.sampled_from(secrets).map(lambda s: s.encode() * 3),
        st.integers(min_value=60, max_value=200).map(lambda n: b"y" * n),
    )
    data = b"".join(draw(st.lists(token, max_size=60)))
    return data, secrets


cut_points = st.lists(st.integers(min_value=0, max_value=20_000), max_size=25)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def collector(
    secrets: tuple[str, ...],
    *,
    limit: int = 1 << 20,
    strategy: OversizedOutputStrategy = TRUNCATE,
    max_line_length: int = 1 << 20,
    spill: Path | None = None,
) -> StreamCollector:
    return StreamCollector(
        "stdout",
        limit=limit,
        strategy=strategy,
        max_line_length=max_line_length,
        redactor=Redactor(secrets),
        spill_path=lambda: spill,
    )


def feed_all(stream: StreamCollector, chunks: list[bytes]) -> list[str]:
    lines: list[str] = []
    for chunk in chunks:
        lines += stream.feed(chunk)
    return lines + stream.finish()


def run_chunked(
    data: bytes, cuts: list[int], secrets: tuple[str, ...], **options: Any
) -> tuple[list[str], list[str], str | None, int, bool]:
    """Feed ``data`` cut at ``cuts``: returned lines, kept lines, spill file, drops, truncated."""
    with tempfile.TemporaryDirectory() as folder:
        spill = Path(folder) / "out.spill"
        target = collector(secrets, spill=spill, **options)
        returned = feed_all(target, chunked(data, cuts))
        spilled = spill.read_text() if spill.exists() else None
    return returned, target.lines, spilled, target.dropped_bytes, target.truncated


@FUZZ
@given(
    stream=streams(),
    cuts=cut_points,
    limit=st.integers(min_value=1, max_value=3_000),
    strategy=st.sampled_from([TRUNCATE, FAIL, SPILL]),
)
# Found by this test: the read ends inside the "é" just after the output cap.
@example(stream=(b"aa\xc3\xa9", ("aa\u00e9",)), cuts=[3], limit=1, strategy=TRUNCATE)
def test_any_chunking_gives_the_same_lines_spill_file_and_counts_as_one_feed(
    stream: tuple[bytes, tuple[str, ...]],
    cuts: list[int],
    limit: int,
    strategy: OversizedOutputStrategy,
) -> None:
    data, secrets = stream
    assert run_chunked(data, cuts, secrets, limit=limit, strategy=strategy) == run_chunked(
        data, [], secrets, limit=limit, strategy=strategy
    )


@FUZZ
@given(stream=streams(), cuts=cut_points, max_line_length=st.integers(min_value=64, max_value=90))
# Found by this test: 66 characters, then "\r\n" in the next read.
@example(stream=(b"y" * 66 + b"\r\n", ("aa",)), cuts=[67], max_line_length=64)
# Found by this test: "ab" is masked in the unfinished long line before "cd"
# arrives, so "abcd" is never seen whole and its tail "cd" shows.
@example(stream=(b"y" * 67 + b"abcd\n", ("ab", "abcd")), cuts=[69], max_line_length=64)
def test_a_line_longer_than_max_line_length_is_cut_the_same_whatever_the_reads(
    stream: tuple[bytes, tuple[str, ...]], cuts: list[int], max_line_length: int
) -> None:
    data, secrets = stream
    assert run_chunked(data, cuts, secrets, max_line_length=max_line_length) == run_chunked(
        data, [], secrets, max_line_length=max_line_length
    )


def leaked(secrets: tuple[str, ...], texts: list[str]) -> list[str]:
    """The texts holding a whole secret; the engine's own truncation warning is not output."""
    return [
        t
        for t in texts
        if not t.startswith(TRUNCATION_WARNING) and any(secret in t for secret in secrets)
    ]


@FUZZ
@given(
    stream=streams(),
    cuts=cut_points,
    max_line_length=st.integers(min_value=64, max_value=90),
    limit=st.integers(min_value=1, max_value=3_000),
    strategy=st.sampled_from([TRUNCATE, FAIL, SPILL]),
)
def test_no_line_returned_kept_or_spilled_ever_holds_a_whole_secret(
    stream: tuple[bytes, tuple[str, ...]],
    cuts: list[int],
    max_line_length: int,
    limit: int,
    strategy: OversizedOutputStrategy,
) -> None:
    data, secrets = stream
    with tempfile.TemporaryDirectory() as folder:
        spill = Path(folder) / "out.spill"
        target = collector(
            secrets, limit=limit, strategy=strategy, max_line_length=max_line_length, spill=spill
        )
        returned = feed_all(target, chunked(data, cuts))
        spilled = spill.read_text().split("\n") if spill.exists() else []
    assert leaked(secrets, returned + target.lines + spilled) == []


@FUZZ
@given(
    stream=streams(newlines=False),
    cuts=cut_points,
    max_line_length=st.integers(min_value=64, max_value=90),
    strategy=st.sampled_from([TRUNCATE, SPILL]),
)
def test_no_secret_straddles_the_cut_of_a_long_line(
    stream: tuple[bytes, tuple[str, ...]],
    cuts: list[int],
    max_line_length: int,
    strategy: OversizedOutputStrategy,
) -> None:
    """Without line breaks every break in the output is a cut: glued back, no secret shows."""
    data, secrets = stream
    with tempfile.TemporaryDirectory() as folder:
        spill = Path(folder) / "out.spill"
        target = collector(
            secrets, limit=1_500, strategy=strategy, max_line_length=max_line_length, spill=spill
        )
        returned = feed_all(target, chunked(data, cuts))
        spilled = spill.read_text().split("\n") if spill.exists() else []
    glued = "".join(line for line in returned if not line.startswith(TRUNCATION_WARNING))
    assert leaked(secrets, [glued, "".join(spilled)]) == []


@FUZZ
@given(
    lines=st.lists(st.text(alphabet="ab\r", max_size=6), min_size=1, max_size=12),
    breaks=st.lists(st.sampled_from(["\n", "\r\n"]), min_size=12, max_size=12),
    cuts=cut_points,
)
def test_crlf_pairs_cut_anywhere_are_one_break_each(
    lines: list[str], breaks: list[str], cuts: list[int]
) -> None:
    # A "\r" inside a line stays; "\r\n" is one break wherever a chunk boundary falls.
    lines = [line.rstrip("\r") for line in lines]
    data = "".join(line + brk for line, brk in zip(lines, breaks, strict=False)).encode()
    assert feed_all(collector(()), chunked(data, cuts)) == lines


# -- JSON into every model that reads it ---------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "\x00", "a\x00b", "shell", "exec", "pending", "2024-01-01T00:00:00Z"]),
    st.uuids().map(str),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
text_or_junk = st.one_of(st.text(max_size=20), json_values)


def _objects(required: dict[str, Any], optional: dict[str, Any]) -> Any:
    """Near-valid objects: the right keys, values sometimes right, sometimes junk, extras."""
    return st.fixed_dictionaries(
        {k: st.one_of(v, json_values) for k, v in required.items()},
        optional={
            **{k: st.one_of(v, json_values) for k, v in optional.items()},
            "unexpected_field": json_values,
        },
    )


commands = _objects(
    {"kind": st.sampled_from(["shell", "exec", "script", "aws_cli", "ssh"])},
    {
        "command": st.text(max_size=20),
        "shell": st.text(max_size=10),
        "program": st.text(max_size=10),
        "args": st.lists(st.text(max_size=6), max_size=3),
        "content": st.text(max_size=20),
        "interpreter": st.text(max_size=10),
        "service": st.from_regex(r"[a-z0-9][a-z0-9-]{0,6}", fullmatch=True) | st.text(max_size=6),
        "operation": st.from_regex(r"[a-z0-9][a-z0-9-]{0,6}", fullmatch=True),
        "profile": st.text(max_size=6),
        "region": st.text(max_size=6),
        "output": st.sampled_from(["json", "text", "table", "yaml", "xml", None]),
    },
)
requests = _objects(
    {"command": commands},
    {
        "id": st.uuids().map(str),
        "timeout_ms": st.integers(min_value=-5, max_value=2**64),
        "env": st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3),
        "working_dir": st.text(max_size=10),
        "stdin": st.text(max_size=10),
        "idle_timeout_ms": st.integers(min_value=-5, max_value=10**6),
        "labels": st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3),
    },
)
numbers = st.one_of(st.integers(min_value=-10, max_value=10**10), st.floats())
configs = _objects(
    {},
    {
        "max_concurrent_executions": numbers,
        "max_queued_executions": numbers,
        "default_timeout_ms": numbers,
        "max_timeout_ms": numbers,
        "kill_grace_ms": numbers,
        "max_output_size_bytes": numbers,
        "oversized_output_strategy": st.sampled_from([s.value for s in OversizedOutputStrategy]),
        "max_line_length": numbers,
        "log_dir": st.one_of(st.none(), st.text(max_size=10)),
        "delete_logs_on_evict": st.booleans(),
        "execution_retention_secs": numbers,
        "max_in_memory_executions": numbers,
        "enable_auto_cleanup": st.booleans(),
        "cleanup_interval_secs": numbers,
        "progress_interval_ms": numbers,
        "inherit_env": st.booleans(),
        "redact": st.lists(st.text(max_size=6), max_size=3),
    },
)
ids = st.uuids().map(str)
statuses = st.sampled_from(["pending", "running", "completed", "failed", "timed_out", "cancelled"])
timestamps = st.datetimes(timezones=st.timezones() | st.none()).map(lambda d: d.isoformat())
events = _objects(
    {
        "type": st.sampled_from(
            ["started", "stdout", "stderr", "progress", "completed", "failed", "cancelled", "x"]
        ),
        "execution_id": ids,
        "seq": st.integers(min_value=-1, max_value=10),
        "timestamp": timestamps,
    },
    {
        "pid": st.integers(),
        "command": st.text(max_size=10),
        "lines": st.lists(st.text(max_size=6), max_size=3),
        "elapsed_ms": st.integers(),
        "stdout_bytes": st.integers(),
        "stderr_bytes": st.integers(),
        "exit_code": st.one_of(st.none(), st.integers()),
        "duration_ms": st.integers(),
        "reason": st.sampled_from(["exit_code", "timeout", "spawn_error", "internal", "nope"]),
        "message": st.text(max_size=10),
    },
)
results = _objects(
    {
        "execution_id": ids,
        "status": statuses,
        "success": st.booleans(),
        "exit_code": st.one_of(st.none(), st.integers()),
        "stdout": st.text(max_size=10),
        "stderr": st.text(max_size=10),
        "stdout_truncated": st.booleans(),
        "stderr_truncated": st.booleans(),
        "error": st.one_of(st.none(), st.text(max_size=10)),
        "queued_at": timestamps,
        "completed_at": timestamps,
        "duration_ms": st.integers(),
    },
    {"started_at": timestamps, "log_path": st.text(max_size=10), "pid": st.integers()},
)


def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


# Each reader, with near-valid objects for it.
READERS: dict[str, tuple[TypeAdapter[Any], Any]] = {
    "ExecutionRequest": (_adapter(ExecutionRequest), requests),
    "ExecutionConfig": (_adapter(ExecutionConfig), configs),
    "Command": (_adapter(Command), commands),
    "ExecutionEvent": (_adapter(ExecutionEvent), events),
    "ExecutionResult": (_adapter(ExecutionResult), results),
    "ExecutionSummary": (_adapter(ExecutionSummary), results),
    "ConcurrencyMetrics": (
        _adapter(ConcurrencyMetrics),
        st.dictionaries(st.text(max_size=6), numbers),
    ),
    "Submit": (_adapter(Submit), _objects({"request": requests}, {})),
    "Cancel": (_adapter(Cancel), _objects({"execution_id": ids}, {})),
    "GetStatus": (_adapter(GetStatus), _objects({"execution_id": ids}, {})),
    "GetResult": (_adapter(GetResult), _objects({"execution_id": ids}, {})),
    "ListExecutions": (_adapter(ListExecutions), _objects({}, {"status": statuses})),
    "GetMetrics": (_adapter(GetMetrics), _objects({}, {})),
    "RunCleanup": (_adapter(RunCleanup), _objects({}, {})),
}


@st.composite
def json_inputs(draw: st.DrawFn, objects: Any) -> str | bytes:
    """Random text, random bytes, random JSON, near-valid objects, and broken versions of them."""
    kind = draw(st.sampled_from(["text", "bytes", "json", "object", "broken"]))
    if kind == "text":
        return draw(st.text(max_size=60))
    if kind == "bytes":
        return draw(st.binary(max_size=60))
    if kind == "json":
        return json.dumps(draw(json_values))
    valid = json.dumps(draw(objects), ensure_ascii=draw(st.booleans()))
    if kind == "object":
        return valid
    cut = draw(st.integers(min_value=0, max_value=len(valid)))
    noise = draw(st.sampled_from(["", "}", "]", ",", '"', "\\", "\\ud800", "\x00", "NaN", "1e999"]))
    return valid[:cut] + noise + valid[cut + 1 :]


def check_reader(adapter: TypeAdapter[Any], text: str | bytes) -> None:
    """Either a ValidationError, or a valid model that round-trips through JSON."""
    try:
        value = adapter.validate_json(text)
    except ValidationError:
        return
    again = adapter.validate_json(adapter.dump_json(value))
    assert again == value
    if isinstance(value, BaseModel):
        assert type(value).model_validate_json(value.model_dump_json()) == value


@pytest.mark.parametrize("reader", READERS, ids=str)
@settings(
    max_examples=max(1, EXAMPLES * 3 // 5),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_json_input_raises_nothing_but_validation_error(reader: str, data: st.DataObject) -> None:
    adapter, objects = READERS[reader]
    check_reader(adapter, data.draw(json_inputs(objects), label="json"))
