"""The supervisor: FIFO queue, concurrency cap, slots, lookups, protocol and cleanup."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from actors import ExecutionEngine, LaunchSpec, LocalLauncher, signals
from actors.testing import EventRecorder
from messages import (
    Cancel,
    Command,
    ConcurrencyMetrics,
    DuplicateExecution,
    Exec,
    ExecutionNotFound,
    ExecutionResult,
    ExecutionStatus,
    Failed,
    GetMetrics,
    GetResult,
    GetStatus,
    ListExecutions,
    QueueFull,
    ResultTimeout,
    RunCleanup,
    Shell,
    Started,
    Submit,
)
from tests.conftest import EngineFactory, py, request

RESULT_TIMEOUT = 20.0

TRUE = Exec(program="true")


def gate(path: Path) -> Exec:
    """A child that runs until ``path`` exists; the test opens the gate by creating it."""
    return py(
        "import os, sys, time\nwhile not os.path.exists(sys.argv[1]):\n    time.sleep(0.01)",
        str(path),
    )


def max_overlap(results: Iterable[ExecutionResult]) -> int:
    """The most executions whose [started_at, completed_at] intervals overlap at one moment."""
    edges: list[tuple[Any, int]] = []
    for result in results:
        assert result.started_at is not None
        edges += [(result.started_at, 1), (result.completed_at, -1)]
    # At equal timestamps an end sorts before a start: touching intervals do not overlap.
    edges.sort(key=lambda edge: (edge[0], edge[1]))
    running = peak = 0
    for _, delta in edges:
        running += delta
        peak = max(peak, running)
    return peak


def run_to_end(engine: ExecutionEngine, command: Command, **fields: Any) -> ExecutionResult:
    """Execute ``command`` and wait for its result."""
    return engine.get_result(engine.execute(request(command, **fields)), timeout=RESULT_TIMEOUT)


# -- FIFO order and the concurrency cap ---------------------------------------------------------


def test_queued_executions_start_in_submission_order(make_engine: EngineFactory) -> None:
    engine = make_engine(max_concurrent_executions=1)
    with EventRecorder(engine) as recorder:
        ids = [engine.execute(request(TRUE)) for _ in range(8)]
        results = [engine.get_result(i, timeout=RESULT_TIMEOUT) for i in ids]
        for execution_id in ids:
            recorder.wait_terminal(execution_id)
        started_order = [e.execution_id for e in recorder.events if e.type == "started"]
    assert started_order == ids
    started_at = [r.started_at for r in results]
    assert started_at == sorted(started_at)  # type: ignore[type-var]


def test_running_executions_never_exceed_the_concurrency_cap(make_engine: EngineFactory) -> None:
    engine = make_engine(max_concurrent_executions=3)
    samples: list[ConcurrencyMetrics] = []

    def sample(_sender: object, *, event: Any) -> None:
        samples.append(engine.get_concurrency_metrics())

    signals.started.connect(sample, sender=engine, weak=False)
    try:
        ids = [engine.execute(request(Exec(program="sleep", args=("0.05",)))) for _ in range(30)]
        results = [engine.get_result(i, timeout=RESULT_TIMEOUT) for i in ids]
    finally:
        signals.started.disconnect(sample, sender=engine)
    assert all(r.status is ExecutionStatus.COMPLETED for r in results)
    assert max_overlap(results) <= 3
    assert samples
    assert all(m.currently_running <= 3 for m in samples)


def test_execute_returns_at_once_when_every_slot_is_busy(make_engine: EngineFactory) -> None:
    engine = make_engine(max_concurrent_executions=10)
    began = time.monotonic()
    ids = [engine.execute(request(Exec(program="sleep", args=("0.2",)))) for _ in range(100)]
    submit_seconds = time.monotonic() - began
    assert len(set(ids)) == 100
    assert submit_seconds < 1.0
    results = [engine.get_result(i, timeout=60) for i in ids]
    assert [r.status for r in results] == [ExecutionStatus.COMPLETED] * 100
    assert max_overlap(results) <= 10


def test_submit_beyond_the_queue_bound_raises_queue_full_and_loses_nothing(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    engine = make_engine(max_concurrent_executions=1, max_queued_executions=2)
    opened = tmp_path / "open"
    first = engine.execute(request(gate(opened)))
    queued = [engine.execute(request(TRUE)) for _ in range(2)]
    with pytest.raises(QueueFull, match="max_queued_executions=2") as caught:
        engine.execute(request(TRUE))
    assert caught.value.limit == 2
    assert engine.get_concurrency_metrics().total_submitted == 3
    opened.touch()
    results = [engine.get_result(i, timeout=RESULT_TIMEOUT) for i in [first, *queued]]
    assert [r.status for r in results] == [ExecutionStatus.COMPLETED] * 3


def test_a_known_request_id_raises_duplicate_execution(engine: ExecutionEngine) -> None:
    req = request(TRUE)
    engine.execute(req)
    with pytest.raises(DuplicateExecution, match=str(req.id)):
        engine.execute(req)
    assert engine.get_result(req.id, timeout=RESULT_TIMEOUT).status is ExecutionStatus.COMPLETED


# -- the slot comes back however an execution ends ----------------------------------------------


class BoomOnceLauncher:
    """A launcher whose first spawn raises ``RuntimeError("boom")``; later ones run locally."""

    def __init__(self) -> None:
        self._local = LocalLauncher()
        self._lock = threading.Lock()
        self.boomed = False

    def spawn(self, spec: LaunchSpec) -> Any:
        with self._lock:
            boom, self.boomed = not self.boomed, True
        if boom:
            raise RuntimeError("boom")
        return self._local.spawn(spec)


@dataclass(frozen=True)
class Ending:
    """One way an execution ends, for the slot-release test."""

    command: Command
    status: ExecutionStatus
    reason: str | None
    fields: dict[str, Any]
    cancel: bool = False
    launcher: Callable[[], Any] | None = None


ENDINGS = {
    "success": Ending(TRUE, ExecutionStatus.COMPLETED, None, {}),
    "non_zero_exit": Ending(py("raise SystemExit(3)"), ExecutionStatus.FAILED, "exit_code", {}),
    "spawn_error": Ending(
        Exec(program="/nonexistent/program"), ExecutionStatus.FAILED, "spawn_error", {}
    ),
    "timeout": Ending(
        Exec(program="sleep", args=("5",)),
        ExecutionStatus.TIMED_OUT,
        "timeout",
        {"timeout_ms": 200},
    ),
    "cancel_of_running": Ending(
        Exec(program="sleep", args=("30",)), ExecutionStatus.CANCELLED, None, {}, cancel=True
    ),
    "internal_error": Ending(
        TRUE, ExecutionStatus.FAILED, "internal", {}, launcher=BoomOnceLauncher
    ),
}


@pytest.mark.parametrize("ending", ENDINGS.values(), ids=ENDINGS.keys())
def test_the_slot_is_released_however_an_execution_ends(
    make_engine: EngineFactory, ending: Ending
) -> None:
    extra = {"launcher": ending.launcher()} if ending.launcher else {}
    engine = make_engine(max_concurrent_executions=1, **extra)
    with EventRecorder(engine) as recorder:
        first = engine.execute(request(ending.command, **ending.fields))
        follow_up = engine.execute(request(TRUE))
        if ending.cancel:
            recorder.wait_for("started", first)
            assert engine.cancel(first) is True
        result = engine.get_result(first, timeout=RESULT_TIMEOUT)
        terminal = recorder.wait_terminal(first)
        assert engine.get_result(follow_up, timeout=RESULT_TIMEOUT).success
    assert result.status is ending.status
    if ending.reason is None:
        assert terminal.type == ("completed" if result.success else "cancelled")
    else:
        assert isinstance(terminal, Failed)
        assert terminal.reason == ending.reason
    if ending.reason == "internal":
        assert result.error is not None and "internal" in result.error
    metrics = engine.get_concurrency_metrics()
    assert (metrics.currently_running, metrics.available_slots) == (0, 1)


# -- cancel and lookups --------------------------------------------------------------------------


def test_cancel_of_a_pending_execution_never_starts_it(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    engine = make_engine(max_concurrent_executions=1)
    opened = tmp_path / "open"
    with EventRecorder(engine) as recorder:
        blocker = engine.execute(request(gate(opened)))
        pending = engine.execute(request(TRUE))
        assert engine.get_status(pending) is ExecutionStatus.PENDING
        assert engine.cancel(pending) is True
        assert engine.get_status(pending) is ExecutionStatus.CANCELLED
        opened.touch()
        assert engine.get_result(blocker, timeout=RESULT_TIMEOUT).success
        # FIFO: had the cancelled one stayed queued, it would start before this one.
        after = engine.execute(request(TRUE))
        assert engine.get_result(after, timeout=RESULT_TIMEOUT).success
        recorder.wait_terminal(after)
        events = recorder.of(pending)
    result = engine.get_result(pending, timeout=RESULT_TIMEOUT)
    assert [(e.type, e.seq) for e in events] == [("cancelled", 1)]
    assert result.status is ExecutionStatus.CANCELLED
    assert (result.pid, result.started_at, result.duration_ms) == (None, None, 0)
    [summary] = [s for s in engine.list_executions() if s.execution_id == pending]
    assert summary.pid is None
    assert engine.cancel(pending) is False


def test_cancel_of_an_unknown_id_raises_execution_not_found(engine: ExecutionEngine) -> None:
    unknown = uuid4()
    with pytest.raises(ExecutionNotFound, match=str(unknown)):
        engine.cancel(unknown)


LOOKUPS: dict[str, Callable[[ExecutionEngine, UUID], object]] = {
    "get_status": lambda engine, i: engine.get_status(i),
    "get_result": lambda engine, i: engine.get_result(i, timeout=1),
    "read_logs": lambda engine, i: engine.read_logs(i),
}


@pytest.mark.parametrize("lookup", LOOKUPS.values(), ids=LOOKUPS.keys())
def test_a_lookup_of_an_unknown_id_raises_execution_not_found(
    engine: ExecutionEngine, lookup: Callable[[ExecutionEngine, UUID], object]
) -> None:
    unknown = uuid4()
    with pytest.raises(ExecutionNotFound, match=str(unknown)):
        lookup(engine, unknown)


def test_get_result_with_a_timeout_raises_result_timeout_and_the_execution_goes_on(
    engine: ExecutionEngine,
) -> None:
    execution_id = engine.execute(request(Exec(program="sleep", args=("5",))))
    with pytest.raises(ResultTimeout, match=r"timeout=0\.2"):
        engine.get_result(execution_id, timeout=0.2)
    assert engine.get_status(execution_id) is ExecutionStatus.RUNNING
    assert engine.cancel(execution_id) is True
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
    assert result.status is ExecutionStatus.CANCELLED


# -- metrics and listings ------------------------------------------------------------------------


def assert_consistent(metrics: ConcurrencyMetrics, limit: int) -> None:
    """The invariants of one metrics sample."""
    assert metrics.max_concurrent == limit
    assert 0 <= metrics.currently_running <= limit
    assert metrics.available_slots == limit - metrics.currently_running
    assert (
        metrics.currently_running + metrics.currently_pending + metrics.total_finished
        == metrics.total_submitted
    )


def test_metrics_are_exact_while_a_batch_runs(make_engine: EngineFactory) -> None:
    engine = make_engine(max_concurrent_executions=3)
    samples: list[ConcurrencyMetrics] = []

    def sample(_sender: object, *, event: Any) -> None:
        samples.append(engine.get_concurrency_metrics())

    signals.event.connect(sample, sender=engine, weak=False)
    try:
        ids = []
        for _ in range(15):
            ids.append(engine.execute(request(Exec(program="sleep", args=("0.05",)))))
            submitted = engine.get_concurrency_metrics()
            samples.append(submitted)
            assert submitted.total_submitted == len(ids)
        for execution_id in ids:
            engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
    finally:
        signals.event.disconnect(sample, sender=engine)
    for metrics in samples:
        assert_consistent(metrics, 3)
    assert any(m.currently_pending > 0 for m in samples)
    final = engine.get_concurrency_metrics()
    assert (final.currently_running, final.currently_pending) == (0, 0)
    assert final.total_submitted == final.total_finished == 15


def test_list_executions_is_newest_first(engine: ExecutionEngine) -> None:
    ids = [engine.execute(request(TRUE)) for _ in range(5)]
    for execution_id in ids:
        engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
    assert [s.execution_id for s in engine.list_executions()] == ids[::-1]


def test_list_executions_filters_by_status(engine: ExecutionEngine, tmp_path: Path) -> None:
    completed = run_to_end(engine, TRUE).execution_id
    failed = run_to_end(engine, py("raise SystemExit(1)")).execution_id
    running = engine.execute(request(gate(tmp_path / "open")))
    by_status = {
        status: [s.execution_id for s in engine.list_executions(status)]
        for status in ExecutionStatus
    }
    assert by_status[ExecutionStatus.COMPLETED] == [completed]
    assert by_status[ExecutionStatus.FAILED] == [failed]
    assert by_status[ExecutionStatus.RUNNING] == [running]
    assert by_status[ExecutionStatus.PENDING] == []
    assert engine.cancel(running) is True


def test_summaries_carry_the_command_description_labels_and_pid(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    command = Exec(program="echo", args=("two words",))
    req = request(command, labels={"team": "ops", "ticket": "42"})
    result = engine.get_result(engine.execute(req), timeout=RESULT_TIMEOUT)
    started = recorder.wait_for("started", req.id)
    assert isinstance(started, Started)
    [summary] = engine.list_executions()
    assert summary.execution_id == req.id
    assert summary.command == command.describe() == "echo 'two words'"
    assert summary.labels == {"team": "ops", "ticket": "42"}
    assert summary.pid == started.pid == result.pid
    assert summary.status is ExecutionStatus.COMPLETED
    assert summary.exit_code == 0
    assert summary.completed_at == result.completed_at


# -- the actor protocol through ask --------------------------------------------------------------


def test_submit_through_ask_answers_the_execution_id(engine: ExecutionEngine) -> None:
    req = request(TRUE)
    assert engine.supervisor.ask(Submit(request=req), timeout=5) == req.id
    assert engine.get_result(req.id, timeout=RESULT_TIMEOUT).success


def test_get_status_and_get_result_through_ask_follow_the_execution(
    engine: ExecutionEngine, tmp_path: Path
) -> None:
    opened = tmp_path / "open"
    execution_id = engine.execute(request(gate(opened)))
    ask = engine.supervisor.ask
    assert ask(GetStatus(execution_id=execution_id), timeout=5) is ExecutionStatus.RUNNING
    assert ask(GetResult(execution_id=execution_id), timeout=5) is None
    opened.touch()
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
    assert ask(GetResult(execution_id=execution_id), timeout=5) == result
    assert ask(GetStatus(execution_id=execution_id), timeout=5) is ExecutionStatus.COMPLETED


def test_list_executions_and_get_metrics_through_ask_match_the_facade(
    engine: ExecutionEngine,
) -> None:
    failed = run_to_end(engine, py("raise SystemExit(1)")).execution_id
    run_to_end(engine, TRUE)
    rows = engine.supervisor.ask(ListExecutions(), timeout=5)
    assert rows == engine.list_executions()
    only_failed = engine.supervisor.ask(ListExecutions(status=ExecutionStatus.FAILED), timeout=5)
    assert isinstance(only_failed, list)
    assert [s.execution_id for s in only_failed] == [failed]
    metrics = engine.supervisor.ask(GetMetrics(), timeout=5)
    assert metrics == engine.get_concurrency_metrics()
    assert (metrics.total_submitted, metrics.total_finished) == (2, 2)


def test_cancel_through_ask_answers_whether_it_cancelled(engine: ExecutionEngine) -> None:
    execution_id = engine.execute(request(Exec(program="sleep", args=("30",))))
    assert engine.supervisor.ask(Cancel(execution_id=execution_id), timeout=5) is True
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
    assert result.status is ExecutionStatus.CANCELLED
    assert engine.supervisor.ask(Cancel(execution_id=execution_id), timeout=5) is False


def test_run_cleanup_through_ask_answers_the_evicted_count(make_engine: EngineFactory) -> None:
    now = [0.0]
    engine = make_engine(
        clock=lambda: now[0], enable_auto_cleanup=False, execution_retention_secs=10.0
    )
    ids = [run_to_end(engine, TRUE).execution_id for _ in range(2)]
    assert engine.supervisor.ask(RunCleanup(), timeout=5) == 0
    now[0] = 10.0
    assert engine.supervisor.ask(RunCleanup(), timeout=5) == 2
    with pytest.raises(ExecutionNotFound):
        engine.get_status(ids[0])


def test_errors_come_back_through_ask(engine: ExecutionEngine) -> None:
    unknown = uuid4()
    with pytest.raises(ExecutionNotFound, match=str(unknown)):
        engine.supervisor.ask(GetStatus(execution_id=unknown), timeout=5)
    with pytest.raises(ExecutionNotFound):
        engine.supervisor.ask(Cancel(execution_id=unknown), timeout=5)
    req = request(TRUE)
    engine.execute(req)
    with pytest.raises(DuplicateExecution):
        engine.supervisor.ask(Submit(request=req), timeout=5)
    # The supervisor survives the errors it raised through ask.
    assert engine.get_result(req.id, timeout=RESULT_TIMEOUT).success


# -- cleanup -------------------------------------------------------------------------------------


def test_cleanup_evicts_only_terminal_executions_older_than_the_retention(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    now = [0.0]
    engine = make_engine(
        clock=lambda: now[0],
        enable_auto_cleanup=False,
        execution_retention_secs=10.0,
        max_concurrent_executions=1,
    )
    oldest = run_to_end(engine, TRUE).execution_id
    now[0] = 5.0
    newer = run_to_end(engine, TRUE).execution_id
    opened = tmp_path / "open"
    running = engine.execute(request(gate(opened)))
    pending = engine.execute(request(TRUE))

    now[0] = 12.0
    assert engine.cleanup_old_executions() == 1
    with pytest.raises(ExecutionNotFound):
        engine.get_status(oldest)
    with pytest.raises(ExecutionNotFound):
        engine.get_result(oldest, timeout=1)
    assert engine.get_status(newer) is ExecutionStatus.COMPLETED

    now[0] = 1000.0
    assert engine.cleanup_old_executions() == 1
    with pytest.raises(ExecutionNotFound):
        engine.get_status(newer)
    assert engine.get_status(running) is ExecutionStatus.RUNNING
    assert engine.get_status(pending) is ExecutionStatus.PENDING
    assert [s.execution_id for s in engine.list_executions()] == [pending, running]

    opened.touch()
    assert engine.get_result(running, timeout=RESULT_TIMEOUT).success
    assert engine.get_result(pending, timeout=RESULT_TIMEOUT).success
    # Ended just now on the fake clock: too young to evict.
    assert engine.cleanup_old_executions() == 0


def test_max_in_memory_executions_keeps_only_the_newest_terminal_ones(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(enable_auto_cleanup=False, max_in_memory_executions=3)
    ids = [run_to_end(engine, TRUE).execution_id for _ in range(5)]
    assert engine.cleanup_old_executions() == 2
    assert [s.execution_id for s in engine.list_executions()] == ids[:1:-1]
    for evicted in ids[:2]:
        with pytest.raises(ExecutionNotFound):
            engine.get_status(evicted)


def test_delete_logs_on_evict_removes_the_log_file(make_engine: EngineFactory) -> None:
    now = [0.0]
    engine = make_engine(
        clock=lambda: now[0],
        enable_auto_cleanup=False,
        delete_logs_on_evict=True,
        execution_retention_secs=10.0,
    )
    result = run_to_end(engine, py("print('logged')"))
    assert result.log_path is not None and result.log_path.is_file()
    assert "logged" in engine.read_logs(result.execution_id)
    now[0] = 10.0
    assert engine.cleanup_old_executions() == 1
    assert not result.log_path.exists()


def test_evicted_logs_stay_without_delete_logs_on_evict(make_engine: EngineFactory) -> None:
    now = [0.0]
    engine = make_engine(
        clock=lambda: now[0], enable_auto_cleanup=False, execution_retention_secs=10.0
    )
    result = run_to_end(engine, TRUE)
    now[0] = 10.0
    assert engine.cleanup_old_executions() == 1
    assert result.log_path is not None and result.log_path.is_file()


def test_no_janitor_runs_without_auto_cleanup(make_engine: EngineFactory) -> None:
    assert make_engine(enable_auto_cleanup=False).janitor is None


def test_the_janitor_evicts_when_asked_to_run_cleanup(make_engine: EngineFactory) -> None:
    now = [0.0]
    engine = make_engine(
        clock=lambda: now[0], cleanup_interval_secs=300.0, execution_retention_secs=1.0
    )
    assert engine.janitor is not None
    execution_id = run_to_end(engine, TRUE).execution_id
    assert engine.janitor.ask(RunCleanup(), timeout=5) == 0
    now[0] = 5.0
    assert engine.janitor.ask(RunCleanup(), timeout=5) == 1
    with pytest.raises(ExecutionNotFound):
        engine.get_status(execution_id)


def test_the_janitor_evicts_old_executions_on_its_own(make_engine: EngineFactory) -> None:
    now = [0.0]
    engine = make_engine(
        clock=lambda: now[0], cleanup_interval_secs=0.05, execution_retention_secs=1.0
    )
    execution_id = run_to_end(engine, TRUE).execution_id
    assert [s.execution_id for s in engine.list_executions()] == [execution_id]
    now[0] = 5.0
    # The janitor is time-driven: polling with a deadline is the only way to see it act.
    deadline = time.monotonic() + 10
    tick = threading.Event()
    while engine.list_executions() and time.monotonic() < deadline:
        tick.wait(0.02)
    assert engine.list_executions() == []
    with pytest.raises(ExecutionNotFound):
        engine.get_status(execution_id)


def test_a_refused_message_sent_with_tell_leaves_the_supervisor_serving(
    engine: ExecutionEngine, caplog: pytest.LogCaptureFixture
) -> None:
    first = request(Shell(command="true"))
    engine.execute(first)
    engine.supervisor.tell(Submit(request=first))  # a duplicate id: refused
    engine.supervisor.tell(Cancel(execution_id=uuid4()))  # unknown: refused
    later = engine.execute(request(Shell(command="echo still here")))
    assert engine.get_result(later, timeout=10).stdout == "still here"
    assert "refused a message sent with tell" in caplog.text
