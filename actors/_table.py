"""The supervisor's state table: records, the FIFO queue and the eviction order."""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from uuid import UUID

from messages import (
    ConcurrencyMetrics,
    ExecutionRequest,
    ExecutionResult,
    ExecutionStatus,
    ExecutionSummary,
)

from ._slot import ResultSlot
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
    waiter: ResultSlot | None = field(default=None)

    def files(self) -> tuple[Path | None, ...]:
        """The files this execution wrote: its log and spill files (None where absent)."""
        result = self.result
        if result is None:
            return (self.log_path,)
        return (self.log_path, result.log_path, result.stdout_spill_path, result.stderr_spill_path)

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


# The evicted prefix of the eviction order is cut off once it is this long and
# at least half of it, so the cut costs O(1) per eviction amortised.
_COMPACT_AFTER = 4096


class ExecutionTable:
    """Records by id, the pending queue in FIFO order, terminal ids by end time."""

    def __init__(self) -> None:
        self.records: dict[UUID, Record] = {}
        self.pending: OrderedDict[UUID, None] = OrderedDict()
        self.running = 0
        self.total_submitted = 0
        self.total_finished = 0
        # The eviction order: terminal ids and their end clocks, oldest first,
        # from _head on (what is before _head was evicted). Two flat lists let
        # an eviction find its cut by bisection and pop its records in C.
        self._terminal_ids: list[UUID] = []
        self._terminal_clocks: list[float] = []
        self._head = 0

    def add(self, record: Record) -> None:
        """Take a newly submitted record."""
        self.records[record.request.id] = record
        self.total_submitted += 1

    def mark_terminal(self, record: Record, clock: float) -> None:
        """Note that ``record`` has ended at ``clock`` (the eviction clock)."""
        record.finished_clock = clock
        self._terminal_ids.append(record.request.id)
        self._terminal_clocks.append(clock)
        self.total_finished += 1

    def newest_first(self) -> Iterator[Record]:
        """Records in reverse submission order."""
        return reversed(self.records.values())

    def summaries(self, status: ExecutionStatus | None) -> list[ExecutionSummary]:
        """Rows of ``list_executions``: newest first, of one status or all."""
        return [r.summary() for r in self.newest_first() if status in (None, r.status)]

    def metrics(self, max_concurrent: int) -> ConcurrencyMetrics:
        """The concurrency budget now."""
        return ConcurrencyMetrics(
            max_concurrent=max_concurrent,
            currently_running=self.running,
            currently_pending=len(self.pending),
            available_slots=max_concurrent - self.running,
            total_submitted=self.total_submitted,
            total_finished=self.total_finished,
        )

    def evict(self, now: float, retention: float, max_total: int) -> list[Record]:
        """Drop terminal records older than ``retention`` or beyond ``max_total``.

        Only terminal records are in the eviction order, oldest first (the
        clock is monotonic), so the cut is found by bisection and the records
        are popped in one C loop: no Python work per evicted record, and a call
        that evicts nothing costs a bisection.
        """
        ids, clocks, head = self._terminal_ids, self._terminal_clocks, self._head
        # Old enough: now - clock >= retention, i.e. clock <= now - retention.
        too_old = bisect.bisect_right(clocks, now - retention, head) - head
        too_many = len(self.records) - max_total
        count = min(len(ids) - head, max(too_old, too_many))
        if count <= 0:
            return []
        evicted = list(map(self.records.pop, ids[head : head + count]))
        self._head = head = head + count
        if head >= _COMPACT_AFTER and head * 2 >= len(ids):
            del ids[:head], clocks[:head]
            self._head = 0
        return evicted
