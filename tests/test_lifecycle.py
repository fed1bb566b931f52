"""The lifecycle hook: internal subscribers see every submission, start, end and eviction."""

from __future__ import annotations

import threading

from actors import ExecutionEngine
from actors._lifecycle import (
    ExecutionEnded,
    ExecutionQueued,
    ExecutionRunning,
    ExecutionsEvicted,
    LifecycleFact,
    LifecycleHook,
)
from actors.testing import ManualClock
from messages import Exec, ExecutionStatus
from tests.conftest import EngineFactory, request

RESULT_TIMEOUT = 20.0


class Collector:
    """Records facts and the thread each arrived on."""

    def __init__(self) -> None:
        self.facts: list[LifecycleFact] = []
        self.threads: set[str] = set()

    def __call__(self, fact: LifecycleFact) -> None:
        self.facts.append(fact)
        self.threads.add(threading.current_thread().name)


def test_a_subscriber_sees_queued_running_and_ended_in_order(engine: ExecutionEngine) -> None:
    seen = Collector()
    engine.lifecycle.subscribe(seen)
    execution_id = engine.execute(request(Exec(program="true")))
    result = engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
    assert engine.lifecycle.wait_idle(RESULT_TIMEOUT)
    queued, running, ended = seen.facts
    assert isinstance(queued, ExecutionQueued) and queued.request.id == execution_id
    assert isinstance(running, ExecutionRunning) and running.execution_id == execution_id
    assert isinstance(ended, ExecutionEnded) and ended.result == result


def test_subscribers_run_off_the_supervisor_thread(engine: ExecutionEngine) -> None:
    seen = Collector()
    engine.lifecycle.subscribe(seen)
    engine.get_result(engine.execute(request(Exec(program="true"))), timeout=RESULT_TIMEOUT)
    assert engine.lifecycle.wait_idle(RESULT_TIMEOUT)
    assert all(name.endswith("-lifecycle") for name in seen.threads)


def test_a_cancelled_pending_execution_ends_without_running(make_engine: EngineFactory) -> None:
    engine = make_engine(max_concurrent_executions=1)
    seen = Collector()
    engine.lifecycle.subscribe(seen)
    blocker = engine.execute(request(Exec(program="sleep", args=("300",))))
    pending = engine.execute(request(Exec(program="true")))
    engine.cancel(pending)
    engine.cancel(blocker)
    engine.get_result(blocker, timeout=RESULT_TIMEOUT)
    assert engine.lifecycle.wait_idle(RESULT_TIMEOUT)
    ends = [f for f in seen.facts if isinstance(f, ExecutionEnded)]
    assert {e.result.execution_id: e.result.status for e in ends} == {
        pending: ExecutionStatus.CANCELLED,
        blocker: ExecutionStatus.CANCELLED,
    }
    assert not any(
        isinstance(f, ExecutionRunning) and f.execution_id == pending for f in seen.facts
    )


def test_an_eviction_is_published_with_the_evicted_ids(make_engine: EngineFactory) -> None:
    clock = ManualClock()
    engine = make_engine(clock=clock, execution_retention_secs=10.0)
    seen = Collector()
    engine.lifecycle.subscribe(seen)
    ids = [engine.execute(request(Exec(program="true"))) for _ in range(3)]
    for execution_id in ids:
        engine.get_result(execution_id, timeout=RESULT_TIMEOUT)
    clock.advance(11.0)
    assert engine.cleanup_old_executions() == 3
    assert engine.lifecycle.wait_idle(RESULT_TIMEOUT)
    evictions = [f for f in seen.facts if isinstance(f, ExecutionsEvicted)]
    assert [set(e.execution_ids) for e in evictions] == [set(ids)]


def test_a_subscriber_that_raises_does_not_stop_the_others() -> None:
    hook = LifecycleHook("test-lifecycle")
    seen = Collector()

    def broken(fact: LifecycleFact) -> None:
        raise RuntimeError("boom")

    hook.subscribe(broken)
    hook.subscribe(seen)
    fact = ExecutionsEvicted(())
    hook.publish(fact)
    assert hook.wait_idle(RESULT_TIMEOUT)
    assert seen.facts == [fact]
    assert hook.stop(RESULT_TIMEOUT)


def test_an_unsubscribed_subscriber_gets_nothing_more() -> None:
    hook = LifecycleHook("test-lifecycle")
    seen = Collector()
    unsubscribe = hook.subscribe(seen)
    unsubscribe()
    hook.publish(ExecutionsEvicted(()))
    assert hook.wait_idle(RESULT_TIMEOUT)
    assert seen.facts == []
    assert not hook.active
    assert hook.stop(RESULT_TIMEOUT)
