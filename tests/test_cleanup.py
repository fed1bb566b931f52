"""Eviction: its cost at scale, and that only terminal executions are ever evicted."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from actors import ExecutionEngine
from actors._table import ExecutionTable, Record
from messages import Exec, ExecutionNotFound, ExecutionRequest, ExecutionStatus
from tests.conftest import EngineFactory, py, request

RESULT_TIMEOUT = 20.0
TRUE = Exec(program="true")
TEMPLATE = ExecutionRequest(command=TRUE)
QUEUED_AT = datetime.now(UTC)


def record(status: ExecutionStatus = ExecutionStatus.COMPLETED) -> Record:
    """A cheap record: the shared request template with a fresh id."""
    return Record(
        request=TEMPLATE.model_copy(update={"id": uuid4()}),
        description="true",
        timeout_ms=1_000,
        queued_at=QUEUED_AT,
        status=status,
    )


def table_of_terminal_records(count: int, old: int) -> tuple[ExecutionTable, list[Record]]:
    """A table of ``count`` terminal records; the first ``old`` ended at clock 0..old-1,
    the others at 10_000 and later."""
    table = ExecutionTable()
    records = [record() for _ in range(count)]
    for n, rec in enumerate(records):
        table.add(rec)
        table.mark_terminal(rec, float(n) if n < old else 10_000.0 + n)
    return table, records


# -- the table -----------------------------------------------------------------------------------


def test_evicting_1000_of_100000_terminal_records_is_fast() -> None:
    table, _ = table_of_terminal_records(100_000, old=1_000)
    started = time.perf_counter()
    evicted = table.evict(now=10_000.0, retention=1_000.0, max_total=1_000_000)
    took = time.perf_counter() - started
    assert len(evicted) == 1_000
    assert took < 0.5, f"evicting 1,000 of 100,000 took {took * 1000:.1f} ms"


def test_evicting_the_oldest_1000_of_100000_leaves_the_99000_newer_ones() -> None:
    table, records = table_of_terminal_records(100_000, old=1_000)
    evicted = table.evict(now=10_000.0, retention=1_000.0, max_total=1_000_000)
    assert evicted == records[:1_000]
    assert len(table.records) == 99_000
    assert list(table.records.values()) == records[1_000:]
    # What is left is still in eviction order: the next pass takes the next oldest.
    assert table.evict(now=10_000.0, retention=1_000.0, max_total=98_999) == [records[1_000]]


def test_eviction_never_touches_pending_or_running_records_even_beyond_max_total() -> None:
    table = ExecutionTable()
    waiting = [record(ExecutionStatus.PENDING) for _ in range(3)]
    running = [record(ExecutionStatus.RUNNING) for _ in range(3)]
    ended = [record() for _ in range(3)]
    for rec in [*waiting, *running, *ended]:
        table.add(rec)
    for rec in waiting:
        table.pending[rec.request.id] = None
    table.running = len(running)
    for rec in ended:
        table.mark_terminal(rec, 0.0)
    evicted = table.evict(now=1e9, retention=1.0, max_total=1)
    assert evicted == ended
    assert list(table.records.values()) == [*waiting, *running]
    assert table.evict(now=1e9, retention=1.0, max_total=1) == []


# -- through the engine --------------------------------------------------------------------------


def gate(path: Path) -> Exec:
    """A child that runs until ``path`` exists; the test opens the gate by creating it."""
    return py(
        "import os, sys, time\nwhile not os.path.exists(sys.argv[1]):\n    time.sleep(0.01)",
        str(path),
    )


def engine_with_three_ended_one_running_one_pending(
    make_engine: EngineFactory, opened: Path, cap: int
) -> tuple[ExecutionEngine, list[UUID], UUID, UUID]:
    """An engine (fake clock, no janitor) holding three terminal executions, ended at
    clock 0, 1 and 2, then a running one held by a gate and a pending one."""
    now = [0.0]
    engine = make_engine(
        clock=lambda: now[0],
        enable_auto_cleanup=False,
        execution_retention_secs=3_600.0,
        max_in_memory_executions=cap,
        max_concurrent_executions=1,
    )
    ended = []
    for n in range(3):
        now[0] = float(n)
        execution_id = engine.execute(request(TRUE))
        ended.append(engine.get_result(execution_id, timeout=RESULT_TIMEOUT).execution_id)
    running = engine.execute(request(gate(opened)))
    pending = engine.execute(request(TRUE))
    assert engine.get_status(running) is ExecutionStatus.RUNNING
    return engine, ended, running, pending


def test_max_in_memory_executions_counts_live_ones_and_keeps_the_newest_terminal_ones(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    opened = tmp_path / "open"
    engine, ended, running, pending = engine_with_three_ended_one_running_one_pending(
        make_engine, opened, cap=3
    )
    try:
        # Five in memory, three allowed: the two oldest terminal ones go.
        assert engine.cleanup_old_executions() == 2
        assert [s.execution_id for s in engine.list_executions()] == [pending, running, ended[2]]
        for evicted in ended[:2]:
            with pytest.raises(ExecutionNotFound):
                engine.get_status(evicted)
    finally:
        opened.touch()
    assert engine.get_result(pending, timeout=RESULT_TIMEOUT).success


def test_max_in_memory_executions_never_evicts_running_or_pending_ones(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    opened = tmp_path / "open"
    engine, _ended, running, pending = engine_with_three_ended_one_running_one_pending(
        make_engine, opened, cap=1
    )
    try:
        assert engine.cleanup_old_executions() == 3
        # Still beyond the cap, but nothing terminal is left to evict.
        assert [s.execution_id for s in engine.list_executions()] == [pending, running]
        assert engine.cleanup_old_executions() == 0
        assert engine.get_status(running) is ExecutionStatus.RUNNING
        assert engine.get_status(pending) is ExecutionStatus.PENDING
    finally:
        opened.touch()
    assert engine.get_result(running, timeout=RESULT_TIMEOUT).success
    assert engine.get_result(pending, timeout=RESULT_TIMEOUT).success


def test_eviction_keeps_its_order_across_the_compaction_of_its_order() -> None:
    table, records = table_of_terminal_records(10_000, old=10_000)
    # 5,000 go by count: the evicted prefix of the order is cut off (compacted).
    assert table.evict(now=0.0, retention=1e9, max_total=5_000) == records[:5_000]
    later = [record() for _ in range(3)]
    for n, rec in enumerate(later):
        table.add(rec)
        table.mark_terminal(rec, 20_000.0 + n)
    assert table.evict(now=0.0, retention=1e9, max_total=5_001) == records[5_000:5_002]
    # By age: everything that ended at clock 9,999 or before, and nothing newer.
    assert table.evict(now=10_999.0, retention=1_000.0, max_total=10**9) == records[5_002:]
    assert list(table.records.values()) == later


def test_a_cleanup_that_evicts_nothing_leaves_a_large_table_untouched() -> None:
    table, _ = table_of_terminal_records(100_000, old=0)
    started = time.perf_counter()
    assert table.evict(now=10_000.0, retention=1_000.0, max_total=1_000_000) == []
    took = time.perf_counter() - started
    assert len(table.records) == 100_000
    assert took < 0.05, f"an empty eviction of 100,000 took {took * 1000:.1f} ms"
