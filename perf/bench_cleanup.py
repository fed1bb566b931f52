"""Cleanup: ``cleanup_old_executions()`` through the facade, per evicted execution.

The table is filled through the engine's own code path: ``execute`` (the
facade's future and all) with the one slot held by a ``sleep``, so each
request waits pending; a ``Cancel`` told to the supervisor ends each one
(terminal, status cancelled, a result model like any other). A fake clock
then ages them all past the retention and one ``cleanup_old_executions()``
evicts them: its time over the number evicted is the figure. A call that
evicts nothing is timed on a full table whose executions are all too young.
"""

from __future__ import annotations

import time
from typing import Any

from _common import make_runner

from actors import ExecutionEngine
from messages import Cancel, Exec, ExecutionConfig, ExecutionRequest

RETENTION_S = 3600.0
TRUE = Exec(program="true")


class Clock:
    """The eviction clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def filled(size: int) -> tuple[ExecutionEngine, Clock]:
    """An engine holding ``size`` terminal executions (plus the ended blocker)."""
    clock = Clock()
    config = ExecutionConfig.high_throughput(
        enable_auto_cleanup=False,
        max_concurrent_executions=1,
        max_queued_executions=size,
        max_in_memory_executions=size + 1,
        execution_retention_secs=RETENTION_S,
    )
    eng = ExecutionEngine(config, clock=clock)
    blocker = eng.execute(ExecutionRequest(command=Exec(program="sleep", args=("600",))))
    ids = [eng.execute(ExecutionRequest(command=TRUE)) for _ in range(size)]
    for execution_id in ids:
        eng.supervisor.tell(Cancel(execution_id=execution_id))
    eng.cancel(blocker)
    eng.get_result(blocker, timeout=60)  # after every Cancel: the supervisor's inbox is FIFO
    if eng.get_concurrency_metrics().total_finished != size + 1:
        raise AssertionError("the table is not full of terminal executions")
    return eng, clock


def bench_evict(loops: int, size: int) -> float:
    """One ``cleanup_old_executions()`` evicting ``size + 1`` terminal executions."""
    total = 0.0
    for _ in range(loops):
        eng, clock = filled(size)
        clock.now = RETENTION_S + 1.0
        start = time.perf_counter()
        evicted = eng.cleanup_old_executions()
        total += time.perf_counter() - start
        eng.shutdown()
        if evicted != size + 1:
            raise AssertionError(f"evicted {evicted} of {size + 1}")
    return total


_full: dict[int, Any] = {}


def bench_empty(loops: int, size: int) -> float:
    """``cleanup_old_executions()`` on ``size`` terminal executions too young to go."""
    if size not in _full:
        _full[size] = filled(size)[0]
    eng = _full[size]
    start = time.perf_counter()
    for _ in range(loops):
        if eng.cleanup_old_executions():
            raise AssertionError("a young execution was evicted")
    return time.perf_counter() - start


if __name__ == "__main__":
    # A fill of 100,000 takes seconds: no warmup value, two processes of two.
    runner, args = make_runner(processes=2, values=2, loops=1, warmups=0)
    sizes = (1_000, 2_000) if args.smoke else (10_000, 100_000)
    for size in sizes:
        runner.bench_time_func(f"cleanup-{size}-engine", bench_evict, size, inner_loops=size + 1)
    runner.bench_time_func("cleanup-empty-engine", bench_empty, sizes[0])
