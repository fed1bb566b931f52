"""Conformance: every execution's events end in one terminal event; slots always come back."""

from __future__ import annotations

from uuid import UUID, uuid4

from messages import (
    Exec,
    ExecutionRequest,
    ExecutionStatus,
    Shell,
    Started,
)

from ._support import (
    RESULT_TIMEOUT_S,
    ConformanceEngine,
    EngineMaker,
    SuiteBase,
    assert_all_gone,
    py,
    sleep_marker,
)

__all__ = ["Lifecycle"]


def _mix(conformance: ConformanceEngine) -> list[UUID]:
    """Run one execution of each way to end: completed, failed, timed out, spawn error,
    cancelled while running, cancelled while pending (the engine has 2 slots); wait for all."""
    engine, recorder = conformance.engine, conformance.recorder

    def submit(command: object, **fields: object) -> UUID:
        return engine.execute(ExecutionRequest(command=command, **fields))  # type: ignore[arg-type]

    ids = [
        submit(py("print('done')")),
        submit(py("import sys; print('x'); sys.exit(2)")),
        submit(Exec(program="/nonexistent/engine-conformance")),
    ]
    for execution_id in ids:
        engine.get_result(execution_id, timeout=RESULT_TIMEOUT_S)
    timed_out = submit(py("import time; time.sleep(300)"), timeout_ms=500)
    running = submit(py("import time; print('up', flush=True); time.sleep(300)"))
    recorder.wait_for("stdout", running, timeout=RESULT_TIMEOUT_S)
    pending = submit(py("print('never')"))
    assert engine.cancel(pending) is True
    assert engine.cancel(running) is True
    ids += [timed_out, running, pending]
    statuses = [engine.get_result(i, timeout=RESULT_TIMEOUT_S).status for i in ids]
    assert statuses == [
        ExecutionStatus.COMPLETED,
        ExecutionStatus.FAILED,
        ExecutionStatus.FAILED,
        ExecutionStatus.TIMED_OUT,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.CANCELLED,
    ]
    for execution_id in ids:
        recorder.wait_terminal(execution_id, timeout=RESULT_TIMEOUT_S)
    return ids


class Lifecycle(SuiteBase):
    """Exactly one terminal event, last, seq gapless; slots back; shutdown kills groups."""

    def test_every_way_to_end_emits_exactly_one_terminal_event_and_it_is_last(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(max_concurrent_executions=2)
        for execution_id in _mix(conformance):
            events = conformance.recorder.of(execution_id)
            assert [e.terminal for e in events].count(True) == 1, events
            assert events[-1].terminal

    def test_every_way_to_end_numbers_its_events_1_2_3_without_gaps(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(max_concurrent_executions=2)
        for execution_id in _mix(conformance):
            seqs = [e.seq for e in conformance.recorder.of(execution_id)]
            assert seqs == list(range(1, len(seqs) + 1))

    def test_every_slot_is_back_after_every_way_to_end(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(max_concurrent_executions=2)
        ids = _mix(conformance)
        metrics = conformance.engine.get_concurrency_metrics()
        assert (metrics.currently_running, metrics.currently_pending) == (0, 0)
        assert metrics.available_slots == metrics.max_concurrent == 2
        assert metrics.total_submitted == metrics.total_finished == len(ids)

    def test_beyond_max_concurrent_an_execution_waits_pending_until_a_slot_frees(
        self, make_conformance_engine: EngineMaker
    ) -> None:
        conformance = make_conformance_engine(max_concurrent_executions=2)
        engine, recorder = conformance.engine, conformance.recorder
        sleeper = ExecutionRequest(command=py("import time; time.sleep(300)"))
        first, second = (
            engine.execute(sleeper),
            engine.execute(sleeper.model_copy(update={"id": uuid4()})),
        )
        third = engine.execute(ExecutionRequest(command=py("print('my turn')")))
        for execution_id in (first, second):
            recorder.wait_for("started", execution_id, timeout=RESULT_TIMEOUT_S)
        assert engine.get_status(third) is ExecutionStatus.PENDING
        metrics = engine.get_concurrency_metrics()
        assert (metrics.currently_running, metrics.currently_pending) == (2, 1)
        assert metrics.available_slots == 0
        assert engine.cancel(first) is True
        assert engine.get_result(third, timeout=RESULT_TIMEOUT_S).stdout == "my turn"
        assert engine.cancel(second) is True
        for execution_id in (first, second, third):
            recorder.wait_terminal(execution_id, timeout=RESULT_TIMEOUT_S)

    def test_shutdown_kills_the_process_group_of_a_running_execution(
        self, conformance: ConformanceEngine
    ) -> None:
        marker = sleep_marker()
        engine, recorder = conformance.engine, conformance.recorder
        command = Shell(command=f"sleep {marker} & echo $!; wait")
        execution_id = engine.execute(ExecutionRequest(command=command))
        started = recorder.wait_for("started", execution_id, timeout=RESULT_TIMEOUT_S)
        printed = recorder.wait_for("stdout", execution_id, timeout=RESULT_TIMEOUT_S)
        assert isinstance(started, Started)
        engine.shutdown(timeout=15)
        assert recorder.wait_terminal(execution_id).type == "cancelled"
        assert_all_gone([started.pid, int(printed.lines[0])], marker)  # type: ignore[union-attr]
