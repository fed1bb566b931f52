"""Events: numbering, order, content, signals, the dispatch thread and isolated observers."""

from __future__ import annotations

import logging
import threading
from typing import Any
from uuid import UUID, uuid4

import pytest

from actors import ExecutionEngine, signals
from actors._dispatch import EventDispatcher
from actors.testing import EventRecorder
from messages import Exec, ExecutionEvent, ExecutionStatus, Shell, Stdout
from tests.conftest import EngineFactory, py, request

RESULT_TIMEOUT = 20.0

TRUE = Exec(program="true")

# Writes to both streams over several reads and runs long enough for Progress events.
CHATTY = py(
    "import sys, time\n"
    "for i in range(3):\n"
    "    print(f'out {i}', flush=True)\n"
    "    print(f'err {i}', file=sys.stderr, flush=True)\n"
    "    time.sleep(0.1)\n"
)


class HandlerRecorder:
    """An ``EventHandler`` that records its events and can wait for a terminal one."""

    def __init__(self, fail: bool = False) -> None:
        self.events: list[ExecutionEvent] = []
        self.threads: list[str] = []
        self._fail = fail
        self._cond = threading.Condition()

    def on_event(self, event: ExecutionEvent) -> None:
        with self._cond:
            self.events.append(event)
            self.threads.append(threading.current_thread().name)
            self._cond.notify_all()
        if self._fail:
            raise RuntimeError(f"handler failure on {event.type}")

    def of(self, execution_id: UUID) -> list[ExecutionEvent]:
        with self._cond:
            return [e for e in self.events if e.execution_id == execution_id]

    def wait_terminal(self, execution_id: UUID, timeout: float = 10.0) -> None:
        def arrived() -> bool:
            return any(e.execution_id == execution_id and e.terminal for e in self.events)

        with self._cond:
            assert self._cond.wait_for(arrived, timeout), f"no terminal event for {execution_id}"


def run(engine: ExecutionEngine, recorder: EventRecorder, command: Any, **fields: Any) -> UUID:
    """Run ``command`` to its end and wait until its terminal event has been delivered."""
    execution_id = engine.execute(request(command, **fields))
    engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
    recorder.wait_terminal(execution_id)
    return execution_id


# -- numbering and order -------------------------------------------------------------------------


def test_seq_numbers_count_from_one_without_gaps(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    execution_id = run(engine, recorder, CHATTY)
    events = recorder.of(execution_id)
    assert len(events) >= 4
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_started_is_first_and_carries_the_pid_and_command_description(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    command = Shell(command="echo started")
    execution_id = engine.execute(request(command))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
    recorder.wait_terminal(execution_id)
    first = recorder.of(execution_id)[0]
    assert first.type == "started"
    assert first.pid == result.pid
    assert first.pid > 0
    assert first.command == command.describe() == "echo started"


@pytest.mark.parametrize(
    ("command", "terminal"),
    [
        (TRUE, "completed"),
        (py("raise SystemExit(2)"), "failed"),
        (Exec(program="/no/such"), "failed"),
    ],
    ids=["completed", "non_zero_exit", "spawn_error"],
)
def test_exactly_one_terminal_event_comes_last(
    engine: ExecutionEngine, recorder: EventRecorder, command: Any, terminal: str
) -> None:
    execution_id = run(engine, recorder, command)
    events = recorder.of(execution_id)
    assert [e.type for e in events if e.terminal] == [terminal]
    assert events[-1].type == terminal


def test_a_cancelled_running_execution_ends_with_one_cancelled_event(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    execution_id = engine.execute(request(Exec(program="sleep", args=("30",))))
    recorder.wait_for("started", execution_id)
    assert engine.cancel(execution_id) is True
    recorder.wait_terminal(execution_id)
    events = recorder.of(execution_id)
    assert [e.type for e in events if e.terminal] == ["cancelled"]
    assert events[-1].type == "cancelled"


def test_a_timed_out_execution_emits_failed_with_reason_timeout(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    execution_id = engine.execute(request(Exec(program="sleep", args=("5",)), timeout_ms=300))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
    terminal = recorder.wait_terminal(execution_id)
    assert result.status is ExecutionStatus.TIMED_OUT
    assert terminal.type == "failed"
    assert terminal.reason == "timeout"
    assert terminal.exit_code is None
    assert "timeout_ms=300" in terminal.message


# -- output events -------------------------------------------------------------------------------


def test_stdout_events_concatenate_to_the_result_stdout_lines(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    code = "import sys\nfor i in range(5000):\n    sys.stdout.write(f'line {i}\\n')"
    execution_id = engine.execute(request(py(code)))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
    recorder.wait_terminal(execution_id)
    lines = [line for e in recorder.of(execution_id) if e.type == "stdout" for line in e.lines]
    expected = [f"line {i}" for i in range(5000)]
    assert lines == expected
    assert result.stdout.split("\n") == expected


def test_stderr_events_concatenate_to_the_result_stderr_lines(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    code = "import sys\nfor i in range(5000):\n    sys.stderr.write(f'problem {i}\\n')"
    execution_id = engine.execute(request(py(code)))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
    recorder.wait_terminal(execution_id)
    events = recorder.of(execution_id)
    lines = [line for e in events if e.type == "stderr" for line in e.lines]
    expected = [f"problem {i}" for i in range(5000)]
    assert lines == expected
    assert result.stderr.split("\n") == expected
    assert not [e for e in events if e.type == "stdout"]


# -- signals -------------------------------------------------------------------------------------


def test_typed_signals_get_only_their_type_and_event_gets_all(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    received: dict[str, list[ExecutionEvent]] = {name: [] for name in signals.SIGNALS_BY_TYPE}

    def listener(name: str) -> Any:
        def receive(_sender: object, *, event: ExecutionEvent) -> None:
            received[name].append(event)

        return receive

    receivers = {name: listener(name) for name in received}
    for name, receiver in receivers.items():
        signals.SIGNALS_BY_TYPE[name].connect(receiver, sender=engine, weak=False)
    try:
        ids = [
            run(engine, recorder, CHATTY),
            run(engine, recorder, py("raise SystemExit(1)")),
        ]
        cancelled = engine.execute(request(Exec(program="sleep", args=("30",))))
        recorder.wait_for("started", cancelled)
        engine.cancel(cancelled)
        recorder.wait_terminal(cancelled)
        ids.append(cancelled)
    finally:
        for name, receiver in receivers.items():
            signals.SIGNALS_BY_TYPE[name].disconnect(receiver, sender=engine)
    for name, events in received.items():
        assert events, f"no {name} event"
        assert {e.type for e in events} == {name}
    everything = [e for e in recorder.events if e.execution_id in ids]
    typed = [e for events in received.values() for e in events]
    assert sorted(typed, key=lambda e: (ids.index(e.execution_id), e.seq)) == everything


def test_receivers_are_called_with_the_engine_and_an_event_keyword(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def receiver(*args: Any, **kwargs: Any) -> None:
        calls.append((args, kwargs))

    signals.completed.connect(receiver, weak=False)
    try:
        execution_id = run(engine, recorder, TRUE)
    finally:
        signals.completed.disconnect(receiver)
    assert len(calls) == 1
    args, kwargs = calls[0]
    assert args == (engine,)
    assert list(kwargs) == ["event"]
    assert kwargs["event"].type == "completed"
    assert kwargs["event"].execution_id == execution_id


def test_receivers_connected_with_a_sender_see_only_that_engines_events(
    make_engine: EngineFactory,
) -> None:
    first, second = make_engine(), make_engine()
    with EventRecorder(first) as of_first, EventRecorder(second) as of_second:
        first_id = run(first, of_first, TRUE)
        second_id = run(second, of_second, TRUE)
    assert first_id in {e.execution_id for e in of_first.events}
    assert second_id not in {e.execution_id for e in of_first.events}
    assert {e.execution_id for e in of_second.events} == {second_id}


def test_receivers_run_on_the_event_dispatch_thread(
    engine: ExecutionEngine, recorder: EventRecorder
) -> None:
    run(engine, recorder, CHATTY)
    run(engine, recorder, Exec(program="/no/such"))
    assert len(set(recorder.threads)) == 1
    [thread] = set(recorder.threads)
    assert thread.startswith("execution-engine-")
    assert thread.endswith("-events")


def test_a_receiver_that_raises_is_logged_and_the_other_observers_get_every_event(
    make_engine: EngineFactory, caplog: pytest.LogCaptureFixture
) -> None:
    handler = HandlerRecorder()
    engine = make_engine(event_handler=handler)
    raised: list[ExecutionEvent] = []

    def broken(_sender: object, *, event: ExecutionEvent) -> None:
        raised.append(event)
        raise RuntimeError("receiver failure")

    signals.event.connect(broken, sender=engine, weak=False)
    try:
        with caplog.at_level(logging.ERROR), EventRecorder(engine) as recorder:
            execution_id = engine.execute(request(CHATTY))
            result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
            recorder.wait_terminal(execution_id)
            handler.wait_terminal(execution_id)
            events = recorder.of(execution_id)
    finally:
        signals.event.disconnect(broken, sender=engine)
    assert result.status is ExecutionStatus.COMPLETED
    assert result.stdout == "out 0\nout 1\nout 2"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == "completed"
    assert handler.of(execution_id) == events
    assert raised == events
    failures = [r for r in caplog.records if "receiver failure" in str(r.exc_info)]
    assert len(failures) == len(events)


def test_a_slow_receiver_does_not_delay_results(make_engine: EngineFactory) -> None:
    engine = make_engine()
    entered, release = threading.Event(), threading.Event()

    def slow(_sender: object, *, event: ExecutionEvent) -> None:
        entered.set()
        release.wait(30)

    signals.started.connect(slow, sender=engine, weak=False)
    try:
        first = engine.execute(request(py("print('first')")))
        assert entered.wait(10)
        assert engine.get_result(first, timeout=10).stdout == "first"
        second = engine.execute(request(py("print('second')")))
        assert engine.get_result(second, timeout=10).stdout == "second"
        assert engine.get_status(first) is ExecutionStatus.COMPLETED
        assert "first" in engine.read_logs(first)
        assert not release.is_set()
    finally:
        release.set()
        signals.started.disconnect(slow, sender=engine)


# -- the EventHandler ----------------------------------------------------------------------------


def test_an_event_handler_gets_every_event_in_order(make_engine: EngineFactory) -> None:
    handler = HandlerRecorder()
    engine = make_engine(event_handler=handler)
    with EventRecorder(engine) as recorder:
        ids = [engine.execute(request(CHATTY)) for _ in range(2)]
        for execution_id in ids:
            engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
            recorder.wait_terminal(execution_id)
            handler.wait_terminal(execution_id)
    for execution_id in ids:
        events = handler.of(execution_id)
        assert events == recorder.of(execution_id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert events[0].type == "started"
        assert events[-1].type == "completed"
    assert all(name.endswith("-events") for name in handler.threads)


def test_an_event_handler_that_raises_is_isolated(
    make_engine: EngineFactory, caplog: pytest.LogCaptureFixture
) -> None:
    handler = HandlerRecorder(fail=True)
    engine = make_engine(event_handler=handler)
    with caplog.at_level(logging.ERROR), EventRecorder(engine) as recorder:
        ids = [engine.execute(request(CHATTY)) for _ in range(2)]
        results = [engine.get_result(i, timeout=RESULT_TIMEOUT) for i in ids]
        for execution_id in ids:
            recorder.wait_terminal(execution_id)
            handler.wait_terminal(execution_id)
        # The handler's failure is logged after it returns; a later event proves it was.
        run(engine, recorder, TRUE)
    assert [r.status for r in results] == [ExecutionStatus.COMPLETED] * 2
    for execution_id in ids:
        assert handler.of(execution_id) == recorder.of(execution_id)
        assert recorder.types(execution_id)[-1] == "completed"
        failures = [
            r
            for r in caplog.records
            if "handler failure" in str(r.exc_info) and str(execution_id) in r.getMessage()
        ]
        assert len(failures) == len(handler.of(execution_id))


# -- progress ------------------------------------------------------------------------------------


def test_progress_events_appear_while_a_child_runs_and_stop_at_the_terminal_event(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(progress_interval_ms=100)
    with EventRecorder(engine) as recorder:
        execution_id = run(engine, recorder, py("import time; time.sleep(0.5)"))
        # Give a stray heartbeat a chance to show up: another execution's whole life.
        run(engine, recorder, py("import time; time.sleep(0.3)"))
        events = recorder.of(execution_id)
    progress = [e for e in events if e.type == "progress"]
    assert len(progress) >= 2
    assert events[-1].terminal
    elapsed = [e.elapsed_ms for e in progress]
    assert elapsed == sorted(elapsed)
    assert all(e.seq < events[-1].seq for e in progress)


def test_progress_interval_zero_gives_no_progress_events(make_engine: EngineFactory) -> None:
    engine = make_engine(progress_interval_ms=0)
    with EventRecorder(engine) as recorder:
        execution_id = run(engine, recorder, py("import time; time.sleep(0.4)"))
        types = recorder.types(execution_id)
    assert "progress" not in types
    assert types == ["started", "completed"]


# -- cost per read -------------------------------------------------------------------------------


def test_a_stdout_event_carries_the_readers_tuple_of_lines_without_a_copy() -> None:
    # Output costs per read, not per line: the tuple a reader emits is the
    # event's ``lines``, not walked, copied or validated again.
    sender = object()
    got: list[Stdout] = []
    arrived = threading.Event()

    def receive(_sender: object, *, event: Stdout) -> None:
        got.append(event)
        arrived.set()

    signals.stdout.connect(receive, sender=sender)
    dispatcher = EventDispatcher(sender, None, "test-events", line_budget=1 << 20)
    try:
        lines = ("one", "two")
        dispatcher.emit(uuid4(), Stdout, {"lines": lines})
        assert arrived.wait(RESULT_TIMEOUT)
    finally:
        dispatcher.stop(RESULT_TIMEOUT)
        signals.stdout.disconnect(receive, sender=sender)
    event = got[0]
    assert event.lines is lines
    validated = Stdout(
        execution_id=event.execution_id, seq=1, timestamp=event.timestamp, lines=lines
    )
    assert event == validated
    assert event.model_fields_set == validated.model_fields_set
    assert event.model_dump_json() == validated.model_dump_json()
    assert Stdout.model_validate_json(event.model_dump_json()) == event
    assert repr(event) == repr(validated)
