"""Between lifecycle facts and models on one side and table rows on the other.

Times are stored as integer microseconds since the epoch (UTC), which
round-trips a ``datetime`` exactly and sorts as a number. What is stored is
redacted; a request's ``env`` is stored as its names only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from messages import ExecutionRequest, ExecutionResult, ExecutionStatus, ExecutionSummary

from .._lifecycle import (
    ExecutionEnded,
    ExecutionQueued,
    ExecutionRunning,
    LifecycleFact,
)
from .._streams import Redactor

__all__ = [
    "RESULT_COLUMNS",
    "SUMMARY_COLUMNS",
    "Rows",
    "from_us",
    "result_from_row",
    "rows_for",
    "stored_request",
    "summary_from_row",
    "to_us",
    "write_facts",
    "write_rows",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

SUMMARY_COLUMNS = "id, status, command, labels, queued_us, started_us, completed_us, exit_code, pid"
"""The columns ``summary_from_row`` reads, in its order."""


def to_us(moment: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch."""
    return (moment - _EPOCH) // _MICROSECOND


def from_us(micros: int) -> datetime:
    """Integer microseconds since the epoch as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=micros)


def _opt_us(moment: datetime | None) -> int | None:
    return None if moment is None else to_us(moment)


def _redact_all(value: Any, redact: Redactor) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(k): _redact_all(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_all(v, redact) for v in value]
    return value


def stored_request(request: ExecutionRequest, redact: Redactor) -> str:
    """The request as JSON, redacted, with ``env`` replaced by the sorted list of its names."""
    names = json.dumps(sorted(request.env), separators=(",", ":")) if request.env else "[]"
    if not redact.secrets:
        text = request.model_dump_json(exclude={"env"})
        return f'{text[:-1]},"env":{names}}}'
    data = _redact_all(request.model_dump(mode="json", exclude={"env"}), redact)
    data["env"] = sorted(request.env)
    return json.dumps(data, separators=(",", ":"))


_END_COLUMNS = (
    "status, started_us, completed_us, exit_code, pid, log_path, stdout_spill, stderr_spill,"
    " stdout, stderr, error, duration_ms, stdout_truncated, stderr_truncated, stdout_dropped,"
    " stderr_dropped, node"
)
_INSERT = (
    "INSERT OR REPLACE INTO executions (id, command, labels, request, queued_us, host, "
    + _END_COLUMNS
    + ") VALUES ("
    + ", ".join("?" * 23)
    + ")"
)
_RUNNING = (
    "UPDATE executions SET status = 'running', pid = ?, started_us = ?"
    " WHERE id = ? AND status = 'pending'"
)
_ENDED = (
    "UPDATE executions SET "
    + ", ".join(f"{c.strip()} = ?" for c in _END_COLUMNS.split(","))
    + " WHERE id = ?"
)
_BASE = 6  # id, command, labels, request, queued_us, host; then the _END_COLUMNS
_NOT_ENDED = ("pending", *(None,) * 16)


def _end_values(result: ExecutionResult) -> tuple[Any, ...]:
    # Columns, not a JSON document: serialising a result costs the engine's GIL
    # more than binding its fields, and only reads (rare) rebuild the model.
    return (
        result.status.value,
        _opt_us(result.started_at),
        to_us(result.completed_at),
        result.exit_code,
        result.pid,
        _opt_str(result.log_path),
        _opt_str(result.stdout_spill_path),
        _opt_str(result.stderr_spill_path),
        result.stdout,
        result.stderr,
        result.error,
        result.duration_ms,
        result.stdout_truncated,
        result.stderr_truncated,
        result.stdout_dropped_bytes,
        result.stderr_dropped_bytes,
        result.node,
    )


def write_facts(
    conn: sqlite3.Connection, facts: Iterable[LifecycleFact], redact: Redactor, host: int
) -> None:
    """Write lifecycle facts inside the caller's transaction (``rows_for``, then ``write_rows``)."""
    write_rows(conn, rows_for(facts, redact, host))


Rows = tuple[list[list[Any]], list[tuple[Any, ...]], list[tuple[Any, ...]]]
"""Rows to insert, ``running`` updates and end updates."""


def write_rows(conn: sqlite3.Connection, rows: Rows) -> None:
    """Run the statements of ``rows_for`` inside the caller's transaction."""
    inserts, running, ended = rows
    if inserts:
        conn.executemany(_INSERT, inserts)
    if running:
        conn.executemany(_RUNNING, running)
    if ended:
        conn.executemany(_ENDED, ended)


def rows_for(facts: Iterable[LifecycleFact], redact: Redactor, host: int) -> Rows:
    """The statements that write ``facts``: as few as can be, built without the database.

    An execution submitted in this batch gets one row with everything the
    batch knows of it (under load most executions start and end within one
    batch). Later facts of executions inserted earlier become updates; a
    ``running`` update never undoes an end, so updates need no order.
    """
    inserts: dict[UUID, list[Any]] = {}
    running: list[tuple[Any, ...]] = []
    ended: list[tuple[Any, ...]] = []
    for fact in facts:
        if isinstance(fact, ExecutionQueued):
            request = fact.request
            key = request.id
            inserts.pop(key, None)  # an id reused: the later submission takes its place
            inserts[key] = [
                str(key),
                redact(fact.description),
                _labels(request.labels, redact),
                stored_request(request, redact),
                to_us(fact.queued_at),
                host,
                *_NOT_ENDED,
            ]
        elif isinstance(fact, ExecutionRunning):
            key = fact.execution_id
            started = to_us(fact.started_at)
            row = inserts.get(key)
            if row is None:
                running.append((fact.pid, started, str(key)))
            elif row[_BASE] == "pending":
                row[_BASE : _BASE + 2] = ("running", started)
                row[_BASE + 4] = fact.pid
        elif isinstance(fact, ExecutionEnded):
            result = fact.result
            key = result.execution_id
            values = _end_values(result)
            row = inserts.get(key)
            if row is None:
                ended.append((*values, str(key)))
            else:
                row[_BASE:] = values
        # ExecutionsEvicted: eviction from memory changes nothing on disk
    return list(inserts.values()), running, ended


def _labels(labels: dict[str, str], redact: Redactor) -> str:
    if not labels:
        return "{}"
    return json.dumps({redact(k): redact(v) for k, v in labels.items()}, separators=(",", ":"))


def _opt_str(value: object | None) -> str | None:
    return None if value is None else str(value)


def summary_from_row(row: tuple[Any, ...]) -> ExecutionSummary:
    """An ``ExecutionSummary`` from the ``SUMMARY_COLUMNS`` of one row."""
    execution_id, status, command, labels, queued, started, completed, exit_code, pid = row
    return ExecutionSummary(
        execution_id=UUID(execution_id),
        status=ExecutionStatus(status),
        command=command,
        labels=json.loads(labels),
        queued_at=from_us(queued),
        started_at=None if started is None else from_us(started),
        completed_at=None if completed is None else from_us(completed),
        exit_code=exit_code,
        pid=pid,
    )


RESULT_COLUMNS = "id, queued_us, " + _END_COLUMNS
"""The columns ``result_from_row`` reads, in its order."""


def result_from_row(row: tuple[Any, ...]) -> ExecutionResult:
    """The ``ExecutionResult`` of a terminal row, from its ``RESULT_COLUMNS``."""
    (
        execution_id,
        queued,
        status,
        started,
        completed,
        exit_code,
        pid,
        log_path,
        stdout_spill,
        stderr_spill,
        stdout,
        stderr,
        error,
        duration_ms,
        stdout_truncated,
        stderr_truncated,
        stdout_dropped,
        stderr_dropped,
        node,
    ) = row
    return ExecutionResult(
        execution_id=UUID(execution_id),
        status=ExecutionStatus(status),
        success=status == ExecutionStatus.COMPLETED.value,
        exit_code=exit_code,
        stdout=stdout or "",
        stderr=stderr or "",
        stdout_truncated=bool(stdout_truncated),
        stderr_truncated=bool(stderr_truncated),
        stdout_spill_path=_opt_path(stdout_spill),
        stderr_spill_path=_opt_path(stderr_spill),
        stdout_dropped_bytes=stdout_dropped or 0,
        stderr_dropped_bytes=stderr_dropped or 0,
        error=error,
        queued_at=from_us(queued),
        started_at=None if started is None else from_us(started),
        completed_at=from_us(completed),
        duration_ms=duration_ms or 0,
        log_path=_opt_path(log_path),
        pid=pid,
        node=node,
    )


def _opt_path(value: str | None) -> Path | None:
    return None if value is None else Path(value)
