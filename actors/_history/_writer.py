"""The history's one writer thread: batches lifecycle facts into few commits.

Facts arrive from the lifecycle thread (``record`` only appends to a deque),
so neither the supervisor nor the lifecycle thread ever waits on the disk.
The writer lingers up to ``LINGER_S`` for a batch to build, which keeps every
commit within a second of its fact while commits stay few under load.

A failed commit (disk full, read-only folder, I/O error) loses nothing: the
batch stays queued, the failure is logged once and counted, and the writer
retries every ``RETRY_S`` until a commit succeeds. The backlog is bounded by
``MAX_BACKLOG``; beyond it the oldest facts are dropped and counted.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from messages import ExecutionError, HistoryMetrics

from .._lifecycle import LifecycleFact
from .._streams import Redactor
from ._prune import delete_files, prune
from ._rows import rows_for, to_us, write_rows

__all__ = ["HistoryWriter", "PruneRequest"]

_log = logging.getLogger("actors.history")

LINGER_S = 0.1
"""Longest wait for a batch to fill before committing; well within the 1 s promise."""
BATCH_MAX = 5_000
"""Facts per transaction at most."""
RETRY_S = 1.0
"""Wait between two attempts while writes fail."""
MAX_BACKLOG = 200_000
"""Facts kept while writes fail; older ones are dropped beyond it."""


@dataclass(slots=True)
class PruneRequest:
    """Prune rows ended before ``cutoff_us`` and beyond ``max_executions``."""

    cutoff_us: int
    max_executions: int
    done: concurrent.futures.Future[int] = field(default_factory=concurrent.futures.Future)


_Op = LifecycleFact | PruneRequest


class HistoryWriter:
    """Owns the writing connection and the thread that uses it; see the module docstring."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, redact: Redactor, host: int, thread_name: str
    ) -> None:
        self._conn = conn
        self._path = path
        self._redact = redact
        self._host = host
        self._cond = threading.Condition()
        self._queue: deque[tuple[int, _Op]] = deque()
        self._enqueued = 0
        self._done_through = 0
        self._urgent = False
        self._closing = False
        self._healthy = True
        self._recorded = self._commits = self._failures = self._dropped = self._pruned = 0
        self._last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._thread.start()

    def record(self, fact: LifecycleFact) -> None:
        """Queue ``fact`` for the next commit; never blocks on the disk."""
        with self._cond:
            self._put(fact)
            # The first fact starts the writer's linger; a full batch ends it early.
            if len(self._queue) == 1 or len(self._queue) >= BATCH_MAX:
                self._cond.notify_all()

    def prune(self, cutoff_us: int, max_executions: int) -> concurrent.futures.Future[int]:
        """Queue a prune after everything recorded so far; the future gets the pruned count."""
        request = PruneRequest(cutoff_us, max_executions)
        with self._cond:
            if self._closing:
                request.done.set_exception(ExecutionError("the history is closed"))
                return request.done
            self._put(request)
            self._urgent = True
            self._cond.notify_all()
        return request.done

    def flush(self, timeout: float | None) -> bool:
        """Commit everything recorded so far; False on timeout or if a commit fails meanwhile."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target, failures = self._enqueued, self._failures
            self._urgent = True
            self._cond.notify_all()
            while self._done_through < target:
                if self._failures != failures or not self._thread.is_alive():
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def metrics(self) -> HistoryMetrics:
        """Counters of this writer now."""
        with self._cond:
            return HistoryMetrics(
                path=self._path,
                healthy=self._healthy,
                recorded=self._recorded,
                commits=self._commits,
                backlog=len(self._queue),
                write_failures=self._failures,
                dropped=self._dropped,
                pruned=self._pruned,
                last_error=self._last_error,
            )

    def close(self, timeout: float) -> bool:
        """Commit what is queued (one attempt if writes fail), end the thread, close the file."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _put(self, op: _Op) -> None:
        self._enqueued += 1
        self._queue.append((self._enqueued, op))
        if len(self._queue) > MAX_BACKLOG:
            _, dropped = self._queue.popleft()
            self._dropped += 1
            if isinstance(dropped, PruneRequest):
                dropped.done.set_result(0)
            if self._dropped == 1:
                _log.error("history %s: backlog full; dropping the oldest records", self._path)

    def _run(self) -> None:
        try:
            while self._step():
                pass
        finally:
            self._finish()

    def _step(self) -> bool:
        with self._cond:
            while not self._queue and not self._closing:
                self._cond.wait()
            if not self._queue:
                return False
            deadline = time.monotonic() + LINGER_S
            while not (self._urgent or self._closing or len(self._queue) >= BATCH_MAX):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch = self._take_batch()
            # A flush asked for everything: stay urgent while a full batch leaves some behind.
            self._urgent = self._urgent and len(batch) < len(self._queue)
        if isinstance(batch[0][1], PruneRequest):
            ok = self._run_prune(batch[0][1])
        else:
            ok = self._commit(batch)
        with self._cond:
            if ok:
                last = batch[-1][0]
                while self._queue and self._queue[0][0] <= last:
                    self._queue.popleft()
                self._done_through = max(self._done_through, last)
            elif self._closing:
                return False
            self._cond.notify_all()
            if not ok:
                self._cond.wait(RETRY_S)
        return True

    def _take_batch(self) -> list[tuple[int, _Op]]:
        batch: list[tuple[int, _Op]] = []
        for item in self._queue:
            if isinstance(item[1], PruneRequest):
                return batch or [item]
            batch.append(item)
            if len(batch) >= BATCH_MAX:
                break
        return batch

    def _commit(self, batch: list[tuple[int, _Op]]) -> bool:
        conn = self._conn
        facts = [fact for _, fact in batch]
        try:
            rows = rows_for(facts, self._redact, self._host)  # type: ignore[arg-type]
        except Exception:  # a bug, not the disk: retrying would fail for ever
            _log.exception("history %s: cannot record %d facts; dropped", self._path, len(facts))
            with self._cond:
                self._dropped += len(facts)
            return True
        try:
            conn.execute("BEGIN IMMEDIATE")
            write_rows(conn, rows)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._failed(exc)
            return False
        with self._cond:
            self._recorded += len(batch)
            self._commits += 1
            if not self._healthy:
                self._healthy = True
                _log.warning("history %s: writing again; nothing recorded was lost", self._path)
        return True

    def _failed(self, exc: sqlite3.Error) -> None:
        with contextlib.suppress(sqlite3.Error):
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        with self._cond:
            self._failures += 1
            self._last_error = f"{type(exc).__name__}: {exc}"
            if self._healthy:
                self._healthy = False
                _log.error(
                    "history %s: cannot write (%s); executions go on, their records wait in"
                    " memory and are written when the file can be written again",
                    self._path,
                    self._last_error,
                )

    def _run_prune(self, request: PruneRequest) -> bool:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            count, files = prune(conn, request.cutoff_us, request.max_executions)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._failed(exc)
            request.done.set_exception(ExecutionError(f"history {self._path}: prune failed: {exc}"))
            return True  # not retried: the next janitor run prunes again
        delete_files(files)
        if count:
            self._shrink()
        with self._cond:
            self._pruned += count
        request.done.set_result(count)
        return True

    def _shrink(self) -> None:
        conn = self._conn
        try:
            # execute() steps a statement once, which frees one page; a script runs it whole.
            conn.executescript("PRAGMA incremental_vacuum;")
            # A reader in a long read would make TRUNCATE wait; never let it block the writer.
            conn.execute("PRAGMA busy_timeout=0")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            _log.debug("history %s: shrinking after a prune: %s", self._path, exc)
        finally:
            conn.execute("PRAGMA busy_timeout=5000")

    def _finish(self) -> None:
        with self._cond:
            left = [op for _, op in self._queue]
            self._queue.clear()
            self._cond.notify_all()
        lost = sum(1 for op in left if not isinstance(op, PruneRequest))
        for op in left:
            if isinstance(op, PruneRequest):
                op.done.set_exception(ExecutionError("the history is closed"))
        if lost:
            _log.error(
                "history %s: closed with %d records that could not be written", self._path, lost
            )
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute(
                "UPDATE hosts SET ended_us = ? WHERE id = ?", (to_us(datetime.now(UTC)), self._host)
            )
        self._conn.close()
