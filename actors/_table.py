"""The supervisor's state table: records, the FIFO queue and the eviction order."""

from __future__ import annotations

import concurrent.futures
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from uuid import UUID

from messages import ExecutionRequest, ExecutionResult, ExecutionStatus, ExecutionSummary

from ._stop import KillReason

__all__ = ["ExecutionTable", "Record"]


@dataclass(slots=True, eq=False)
class Record:
    """Everything the supervisor knows about one execution."""

    request: ExecutionRequest
    description: str
    timeout_ms: int
    queued_at: datetime
    status: ExecutionStatus = ExecutionStatus.PENDING
    started_at: datetime | None = None
    pid: int | None = None
    log_path: Path | None = None
    kill: Callable[[KillReason, bool], None] | None = None
    cancel_reason: KillReason | None = None
    hard_kill: bool = False
    node: str | None = None
    result: ExecutionResult | None = None
    finished_clock: float = 0.0
    waiter: concurrent.futures.Future[ExecutionResult] | None = field(default=None)

    def summary(self) -> ExecutionSummary:
        """This record as a row of ``list_executions``."""
        result = self.result
        return ExecutionSummary(
            execution_id=self.request.id,
            status=self.status,
            command=self.description,
            labels=self.request.labels,
            queued_at=self.queued_at,
            started_at=self.started_at,
            completed_at=result.completed_at if result else None,
            exit_code=result.exit_code if result else None,
            pid=self.pid,
        )


class ExecutionTable:
    """Records by id, the pending queue in FIFO order, terminal ids by end time."""

    def __init__(self) -> None:
        self.records: dict[UUID, Record] = {}
        self.pending: OrderedDict[UUID, None] = OrderedDict()
        self.running = 0
        self.total_submitted = 0
        self.total_finished = 0
        self._terminal: OrderedDict[UUID, None] = OrderedDict()

    def add(self, record: Record) -> None:
        """Take a newly submitted record."""
        self.records[record.request.id] = record
        self.total_submitted += 1

    def mark_terminal(self, record: Record, clock: float) -> None:
        """Note that ``record`` has ended at ``clock`` (the eviction clock)."""
        record.finished_clock = clock
        self._terminal[record.request.id] = None
        self.total_finished += 1

    def newest_first(self) -> Iterator[Record]:
        """Records in reverse submission order."""
        return reversed(self.records.values())

    def evict(self, now: float, retention: float, max_total: int) -> list[Record]:
        """Drop terminal records older than ``retention`` or beyond ``max_total``.

        Only terminal records are in the eviction order, oldest first, so the
        cost grows with the number evicted, not with the table.
        """
        evicted: list[Record] = []
        terminal, records = self._terminal, self.records
        while terminal:
            oldest = next(iter(terminal))
            record = records[oldest]
            if len(records) <= max_total and now - record.finished_clock < retention:
                break
            del terminal[oldest]
            del records[oldest]
            evicted.append(record)
        return evicted
