"""Cleanup: evicting finished executions from the supervisor's table.

Measures ``ExecutionTable.evict``, the work the supervisor does for a
``RunCleanup`` (the janitor's tick or ``cleanup_old_executions()``). The
baseline deletes the same number of keys from a plain dict: the floor any
table of executions keyed by id pays.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from _common import make_runner

from actors._table import ExecutionTable, Record
from messages import Exec, ExecutionRequest

TEMPLATE = ExecutionRequest(command=Exec(program="true"))


def build_table(size: int) -> ExecutionTable:
    """A table of ``size`` terminal executions; the i-th finished at clock i."""
    table = ExecutionTable()
    now = datetime.now(UTC)
    for i in range(size):
        request = TEMPLATE.model_copy(update={"id": uuid.uuid4()})
        record = Record(request=request, description="true", timeout_ms=1000, queued_at=now)
        table.add(record)
        table.mark_terminal(record, float(i))
    return table


def bench_evict(loops: int, size: int, evict: int) -> float:
    """Evict the ``evict`` oldest of ``size`` terminal executions (by age)."""
    total = 0.0
    for _ in range(loops):
        table = build_table(size)
        # Executions finished at clock 0..evict-1 are older than the retention.
        now, retention = float(size), float(size - evict) + 0.5
        start = time.perf_counter()
        evicted = table.evict(now, retention, max_total=size)
        total += time.perf_counter() - start
        if len(evicted) != evict or len(table.records) != size - evict:
            raise AssertionError(f"evicted {len(evicted)} of {evict}")
    return total


def bench_dict(loops: int, size: int, evict: int) -> float:
    """Delete ``evict`` keys from a dict of ``size`` uuid keys."""
    total = 0.0
    for _ in range(loops):
        keys = [uuid.uuid4() for _ in range(size)]
        table = dict.fromkeys(keys)
        start = time.perf_counter()
        for key in keys[:evict]:
            del table[key]
        total += time.perf_counter() - start
    return total


if __name__ == "__main__":
    runner, args = make_runner(processes=3, values=3, loops=1)
    size = 2_000 if args.smoke else 100_000
    for evict in (size // 100, size):
        runner.bench_time_func(f"cleanup-{evict}-of-{size}-baseline", bench_dict, size, evict)
        runner.bench_time_func(f"cleanup-{evict}-of-{size}-engine", bench_evict, size, evict)
