"""``ExecutionHistory``: past executions in a SQLite file, read from any thread or process."""

from __future__ import annotations

import builtins
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from messages import (
    ExecutionConfig,
    ExecutionError,
    ExecutionNotFound,
    ExecutionResult,
    ExecutionStatus,
    ExecutionSummary,
    HistoryMetrics,
)

from .._lifecycle import LifecycleFact
from .._streams import Redactor
from ._lock import HistoryLock
from ._recovery import recover, register_host
from ._rows import RESULT_COLUMNS, SUMMARY_COLUMNS, result_from_row, summary_from_row, to_us
from ._schema import connect_reader, connect_writer, migrate
from ._writer import HistoryWriter

__all__ = ["ExecutionHistory", "start_history"]

_log = logging.getLogger("actors.history")


class ExecutionHistory:
    """Past and present executions recorded in a history file.

    ``engine.history`` is the one an engine writes; ``ExecutionHistory.open(path)``
    reads a file without an engine, while another process may be writing it.
    Every method is safe from any thread; each read uses a connection of its
    own for one short transaction, so readers never hold up the writer.
    """

    def __init__(
        self,
        path: Path,
        *,
        writer: HistoryWriter | None = None,
        lock: HistoryLock | None = None,
        before_flush: Callable[[float | None], bool] | None = None,
        retention: tuple[float, int] | None = None,
    ) -> None:
        """Internal: use ``ExecutionHistory.open`` or ``engine.history``."""
        self._path = path
        self._writer = writer
        self._lock = lock
        self._before_flush = before_flush
        self._retention = retention

    @classmethod
    def open(cls, path: Path | str) -> ExecutionHistory:
        """Read the history file at ``path`` (an engine in this or another process may write it).

        Raises:
            ExecutionError: no file there, or not a history file; the message names it.
        """
        history = cls(Path(path))
        with closing(connect_reader(history._path)):
            pass
        return history

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    def list(
        self, status: ExecutionStatus | str | None = None, limit: int = 100
    ) -> builtins.list[ExecutionSummary]:
        """The newest ``limit`` executions (of ``status``, if given), newest first.

        Raises:
            ValueError: ``limit`` below 1 or an unknown ``status``.
        """
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit!r}")
        where, args = "", builtins.list[Any]([limit])
        if status is not None:
            where, args = "WHERE status = ?", [ExecutionStatus(status).value, limit]
        rows = self._query(
            f"SELECT {SUMMARY_COLUMNS} FROM executions {where} ORDER BY seq DESC LIMIT ?", args
        )
        return [summary_from_row(row) for row in rows]

    def count(self, status: ExecutionStatus | str | None = None) -> int:
        """How many executions the file holds (of ``status``, if given)."""
        if status is None:
            rows = self._query("SELECT count(*) FROM executions", [])
        else:
            value = ExecutionStatus(status).value
            rows = self._query("SELECT count(*) FROM executions WHERE status = ?", [value])
        return int(rows[0][0])

    def summary(self, execution_id: UUID) -> ExecutionSummary:
        """One execution's row, whatever its status.

        Raises:
            ExecutionNotFound: the file has no execution with this id.
        """
        rows = self._query(f"SELECT {SUMMARY_COLUMNS} FROM executions WHERE id = ?", [execution_id])
        if not rows:
            raise ExecutionNotFound(execution_id)
        return summary_from_row(rows[0])

    def status(self, execution_id: UUID) -> ExecutionStatus:
        """One execution's status.

        Raises:
            ExecutionNotFound: the file has no execution with this id.
        """
        return self.summary(execution_id).status

    def get(self, execution_id: UUID) -> ExecutionResult:
        """The result of a terminal execution, as ``get_result`` returned it (redacted).

        Raises:
            ExecutionNotFound: the file has no execution with this id.
            ExecutionError: the execution is still pending or running.
        """
        rows = self._query(f"SELECT {RESULT_COLUMNS} FROM executions WHERE id = ?", [execution_id])
        if not rows:
            raise ExecutionNotFound(execution_id)
        row = rows[0]
        if row[4] is None:  # completed_us: set when, and only when, it is terminal
            raise ExecutionError(f"execution {execution_id} is still {row[2]}; no result yet")
        return result_from_row(row)

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything the engine did so far is committed to the file.

        Returns:
            True once committed; False when ``timeout`` seconds passed first or
            a write failed meanwhile (see ``metrics()``). Always True for a
            history opened with ``open``.
        """
        if self._writer is None:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._before_flush is not None and not self._before_flush(timeout):
            return False
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self._writer.flush(left)

    def prune(self, now: datetime | None = None, timeout: float | None = 60.0) -> int:
        """Prune by the engine's retention now; returns how many executions went.

        Terminal executions that ended more than ``history_retention_secs``
        before ``now`` go, then the oldest terminal ones beyond
        ``history_max_executions``, with the log and spill files only they
        point to. Pending and running ones never go.

        Raises:
            ExecutionError: a history opened with ``open`` (it never writes),
                or the prune failed.
        """
        if self._writer is None or self._retention is None:
            raise ExecutionError(
                f"history {str(self._path)!r} was opened read-only; it never prunes"
            )
        retention, max_executions = self._retention
        cutoff = (now or datetime.now(UTC)) - timedelta(seconds=retention)
        future = self._writer.prune(to_us(cutoff), max_executions)
        return future.result(timeout)

    def metrics(self) -> HistoryMetrics:
        """The writer's counters and health (all zero for a history opened with ``open``)."""
        if self._writer is None:
            return HistoryMetrics(
                path=self._path,
                healthy=True,
                recorded=0,
                commits=0,
                backlog=0,
                write_failures=0,
                dropped=0,
                pruned=0,
                last_error=None,
            )
        return self._writer.metrics()

    def record(self, fact: LifecycleFact) -> None:
        """Internal: the engine's lifecycle subscriber; queues ``fact`` for the writer."""
        if self._writer is not None:
            self._writer.record(fact)

    def close(self, timeout: float = 10.0) -> bool:
        """Commit what is queued, stop the writer thread, drop the lock; idempotent.

        Returns:
            False if the writer thread did not end within ``timeout``.
        """
        writer, self._writer = self._writer, None
        ended = True
        if writer is not None:
            ended = writer.close(timeout)
        if self._lock is not None:
            self._lock.release()
        return ended

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "writer" if self._writer is not None else "reader"
        return f"ExecutionHistory({str(self._path)!r}, {mode})"

    def _query(self, sql: str, args: builtins.list[Any]) -> builtins.list[tuple[Any, ...]]:
        params = [str(a) if isinstance(a, UUID) else a for a in args]
        with closing(connect_reader(self._path)) as conn:
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise ExecutionError(
                    f"cannot read history file {str(self._path)!r}: {exc}"
                ) from exc


def _prepare_folder(folder: Path) -> None:
    if folder.is_dir():
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask
    except OSError as exc:
        raise ExecutionError(f"cannot create the folder of history_path: {folder}: {exc}") from exc


def start_history(
    config: ExecutionConfig,
    *,
    thread_name: str,
    before_flush: Callable[[float | None], bool] | None = None,
) -> ExecutionHistory:
    """Open (create, upgrade, recover) ``config.history_path`` and start its writer thread.

    Raises:
        ExecutionError: another engine holds the file, or it is not a history
            file; nothing in it was changed.
    """
    path = config.history_path
    assert path is not None
    _prepare_folder(path.parent)
    lock = HistoryLock(path)
    try:
        conn = connect_writer(path)
        try:
            migrate(conn, path)
            conn.execute("BEGIN IMMEDIATE")
            interrupted = recover(conn, datetime.now(UTC))
            host = register_host(conn)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.close()
            raise ExecutionError(f"cannot recover history file {str(path)!r}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
    except BaseException:
        lock.release()
        raise
    if interrupted:
        _log.warning(
            "history %s: %d executions of a host that died marked interrupted (not re-run)",
            path,
            interrupted,
        )
    writer = HistoryWriter(conn, path, Redactor(config.redact), host, thread_name)
    return ExecutionHistory(
        path,
        writer=writer,
        lock=lock,
        before_flush=before_flush,
        retention=(config.history_retention_secs, config.history_max_executions),
    )
