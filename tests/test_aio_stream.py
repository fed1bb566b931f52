"""``EventStream`` buffering: merging for slow readers, gapless seq, one wake-up per burst."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest

from actors._aio_stream import EventStream, Fanout
from messages import Completed, ExecutionEvent, Progress, Started, Stderr, Stdout

T = TypeVar("T")

DEADLINE = 20.0
NOW = datetime.now(UTC)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a fresh event loop, failing after ``DEADLINE`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, DEADLINE))


def stream(
    line_budget: int = 1000, execution_id: UUID | None = None, fanout: Fanout | None = None
) -> EventStream:
    """A stream fed by hand (``push``), not by an engine."""
    fanout = fanout if fanout is not None else Fanout(object())
    return EventStream(fanout, execution_id, line_budget, lambda: False)


class Script:
    """Builds one execution's events with consecutive ``seq``, as the engine numbers them."""

    def __init__(self) -> None:
        self.execution_id = uuid4()
        self.seq = 0

    def _next(self) -> dict[str, Any]:
        self.seq += 1
        return {"execution_id": self.execution_id, "seq": self.seq, "timestamp": NOW}

    def started(self) -> Started:
        return Started(pid=1, command="x", **self._next())

    def out(self, *lines: str) -> Stdout:
        return Stdout(lines=lines, **self._next())

    def err(self, *lines: str) -> Stderr:
        return Stderr(lines=lines, **self._next())

    def progress(self, elapsed_ms: int) -> Progress:
        return Progress(elapsed_ms=elapsed_ms, stdout_bytes=0, stderr_bytes=0, **self._next())

    def completed(self) -> Completed:
        return Completed(exit_code=0, duration_ms=1, **self._next())


async def drain(s: EventStream) -> list[ExecutionEvent]:
    """Every event buffered in ``s`` now (the stream must be ended, or this waits)."""
    return [event async for event in s]


def pushed_then_read(s: EventStream, events: list[ExecutionEvent]) -> list[ExecutionEvent]:
    async def scenario() -> list[ExecutionEvent]:
        async with s:
            for event in events:
                s.push(event)
            s.close()
            return await drain(s)

    return run(scenario())


def test_consecutive_output_of_an_execution_merges_into_one_event_with_gapless_seq() -> None:
    x = Script()
    events: list[ExecutionEvent] = [x.started(), x.out("a"), x.out("b", "c"), x.out("d")]
    events += [x.err("e"), x.completed()]
    seen = pushed_then_read(stream(), events)
    assert [e.type for e in seen] == ["started", "stdout", "stderr", "completed"]
    assert [e.seq for e in seen] == [1, 2, 3, 4]
    assert isinstance(seen[1], Stdout)
    assert seen[1].lines == ("a", "b", "c", "d")


def test_a_newer_progress_replaces_a_waiting_one() -> None:
    x = Script()
    seen = pushed_then_read(stream(), [x.progress(1), x.progress(2), x.progress(3), x.completed()])
    assert [(e.type, e.seq) for e in seen] == [("progress", 1), ("completed", 2)]
    assert isinstance(seen[0], Progress)
    assert seen[0].elapsed_ms == 3


def test_lifecycle_events_are_never_merged() -> None:
    x, y = Script(), Script()
    events: list[ExecutionEvent] = [x.started(), y.started(), x.completed(), y.completed()]
    seen = pushed_then_read(stream(), events)
    assert seen == events


def test_output_of_two_executions_merges_per_execution_and_keeps_each_order() -> None:
    x, y = Script(), Script()
    events: list[ExecutionEvent] = [x.out("x1"), y.out("y1"), x.out("x2"), y.out("y2")]
    events += [x.completed(), y.completed()]
    seen = pushed_then_read(stream(), events)
    lines = [(e.execution_id, e.seq, e.lines) for e in seen if isinstance(e, Stdout)]
    assert lines == [(x.execution_id, 1, ("x1", "x2")), (y.execution_id, 1, ("y1", "y2"))]
    assert [(e.execution_id, e.seq) for e in seen if e.terminal] == [
        (x.execution_id, 2),
        (y.execution_id, 2),
    ]


def test_lines_beyond_the_budget_are_counted_in_one_line_instead() -> None:
    x = Script()
    events: list[ExecutionEvent] = [x.out("12345"), x.out("67890"), x.out("abc"), x.out("d", "e")]
    seen = pushed_then_read(stream(line_budget=10), [*events, x.completed()])
    assert isinstance(seen[0], Stdout)
    assert seen[0].lines[:2] == ("12345", "67890")
    assert seen[0].lines[2].startswith("[3 lines not delivered")
    assert [e.seq for e in seen] == [1, 2]


def test_a_stream_of_one_execution_skips_the_others_and_ends_after_its_terminal_event() -> None:
    x, y = Script(), Script()
    events: list[ExecutionEvent] = [x.started(), y.started(), x.completed(), x.out("late")]

    async def scenario() -> list[ExecutionEvent]:
        fanout = Fanout(object())
        async with stream(execution_id=x.execution_id, fanout=fanout) as s:
            for event in events:
                fanout._receive(None, event=event)
            return await drain(s)

    assert run(scenario()) == events[0:3:2]


def test_a_burst_pushed_from_another_thread_wakes_the_loop_once() -> None:
    bursts = [Script() for _ in range(1000)]

    async def scenario() -> tuple[int, int]:
        wakes = 0
        async with stream() as s:
            wake: Callable[[], None] = s._wake

            def counting_wake() -> None:
                nonlocal wakes
                wakes += 1
                wake()

            s._wake = counting_wake  # type: ignore[method-assign]
            first = asyncio.create_task(anext(s))
            await asyncio.sleep(0)  # the reader now waits for an event

            def push_burst() -> None:
                for script in bursts:
                    s.push(script.started())

            pusher = threading.Thread(target=push_burst)
            pusher.start()
            pusher.join()  # blocks the loop on purpose: the whole burst lands at once
            await first
            s.close()
            rest = await drain(s)
        return wakes, 1 + len(rest)

    assert run(scenario()) == (1, 1000)


def test_a_stream_cannot_be_read_before_it_is_entered() -> None:
    async def scenario() -> None:
        await anext(stream())

    with pytest.raises(RuntimeError, match="async with"):
        run(scenario())


def test_a_stream_cannot_be_entered_twice() -> None:
    async def scenario() -> None:
        async with stream() as s:
            await s.__aenter__()

    with pytest.raises(RuntimeError, match="only once"):
        run(scenario())
