"""Event streams for asyncio: one blinker receiver per engine fans events out to streams.

Receivers run on the engine's event-dispatch thread. Each stream buffers what
its consumer has not read yet, merging output the way the engine's dispatcher
does for slow observers, and wakes its loop once per burst, not once per event.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from messages import ExecutionEvent, Progress, Stderr, Stdout

from . import signals

__all__ = ["EventStream", "Fanout"]


class Fanout:
    """The one receiver of ``signals.event`` an async engine connects, for all its streams.

    blinker's ``disconnect(fn, sender=engine)`` of a receiver connected with
    ``weak=False`` leaves it in ``Signal.receivers`` for good, so a receiver
    per stream would leak one entry per stream. This receiver is connected
    when the first stream opens and disconnected from every sender (which
    does clean up) when the last one closes.
    """

    def __init__(self, engine: object) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        # Replaced, never mutated: the dispatch thread reads them without the lock.
        # Streams of one execution are found by its id, so many of them cost
        # nothing per event of the others.
        self._all: tuple[EventStream, ...] = ()
        self._one: dict[UUID, tuple[EventStream, ...]] = {}
        self._count = 0

    def add(self, stream: EventStream, execution_id: UUID | None) -> None:
        """Deliver the engine's events (of ``execution_id`` only, if given) to ``stream``."""
        with self._lock:
            if not self._count:
                signals.event.connect(self._receive, sender=self._engine, weak=False)
            self._count += 1
            if execution_id is None:
                self._all = (*self._all, stream)
            else:
                self._one = self._one | {execution_id: (*self._one.get(execution_id, ()), stream)}

    def remove(self, stream: EventStream, execution_id: UUID | None) -> None:
        """Stop delivering to ``stream``; a no-op if it is not receiving."""
        with self._lock:
            if execution_id is None:
                if stream not in self._all:
                    return
                self._all = tuple(s for s in self._all if s is not stream)
            else:
                some = self._one.get(execution_id, ())
                if stream not in some:
                    return
                rest = tuple(s for s in some if s is not stream)
                self._one = {k: v for k, v in self._one.items() if k != execution_id}
                if rest:
                    self._one[execution_id] = rest
            self._count -= 1
            if not self._count:
                signals.event.disconnect(self._receive)

    @property
    def streams(self) -> list[EventStream]:
        """The streams receiving events now."""
        return [*self._all, *(s for some in self._one.values() for s in some)]

    def _receive(self, _sender: Any, *, event: ExecutionEvent) -> None:
        for stream in self._all:
            stream.push(event)
        for stream in self._one.get(event.execution_id, ()):
            stream.push(event)


class _Item:
    """A buffered event; output lines and progress of its execution may still merge into it."""

    __slots__ = ("chars", "dropped", "event", "lines", "seq")

    def __init__(self, event: ExecutionEvent, seq: int) -> None:
        self.event = event
        self.seq = seq
        self.lines: list[str] | None = None
        self.chars = sum(map(len, event.lines)) if isinstance(event, Stdout | Stderr) else 0
        self.dropped = 0

    def build(self) -> ExecutionEvent:
        event = self.event
        update: dict[str, Any] = {}
        if self.seq != event.seq:
            update["seq"] = self.seq
        if self.lines is not None:
            lines = self.lines
            if self.dropped:
                lines.append(
                    f"[{self.dropped} lines not delivered: this stream's reader fell behind; "
                    "the result and the log have them]"
                )
            update["lines"] = tuple(lines)
        # The values were validated when the engine built the event; nothing new to check.
        return event.model_copy(update=update) if update else event


class EventStream:
    """The events of one engine, or of one execution, as an async iterator.

    Made by ``AsyncExecutionEngine.events()``; subscribed when its ``async
    with`` block is entered, unsubscribed when the block is left (also when
    the consuming task is cancelled). Events come in order per execution.

    A consumer that falls behind costs bounded memory: consecutive output
    events of an execution merge into one (lines concatenated; beyond
    ``line_budget`` characters in one merged event the lines are counted,
    not kept, and one line says how many), a newer ``Progress`` replaces a
    waiting one, and ``seq`` is renumbered so this stream still sees each
    execution's events numbered without gaps. Lifecycle events are never
    merged or dropped.
    """

    def __init__(
        self,
        fanout: Fanout,
        execution_id: UUID | None,
        line_budget: int,
        ended: Callable[[], bool],
    ) -> None:
        self._fanout = fanout
        self._ended_already = ended
        self._execution_id = execution_id
        self._line_budget = line_budget
        self._lock = threading.Lock()
        self._buffer: deque[_Item] = deque()
        self._last: dict[UUID, _Item] = {}
        self._merged: dict[UUID, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._wake_scheduled = False
        self._ended = False
        self.peak_buffered = 0
        """The most events that ever waited in this stream at once."""

    @property
    def buffered(self) -> int:
        """How many events wait to be read now."""
        return len(self._buffer)

    def push(self, event: ExecutionEvent) -> None:
        """Buffer one event; called on the engine's event-dispatch thread."""
        execution_id = event.execution_id
        with self._lock:
            if self._ended:
                return
            if not self._merge(event):
                item = _Item(event, event.seq - self._merged.get(execution_id, 0))
                self._buffer.append(item)
                self.peak_buffered = max(self.peak_buffered, len(self._buffer))
                if event.terminal:
                    self._last.pop(execution_id, None)
                    self._merged.pop(execution_id, None)
                    self._ended = self._execution_id is not None
                else:
                    self._last[execution_id] = item
            if self._waiter is None or self._wake_scheduled or self._loop is None:
                return
            self._wake_scheduled = True
            loop = self._loop
        try:
            loop.call_soon_threadsafe(self._wake)
        except RuntimeError:  # the loop is closed: nobody will ever read this stream
            self._fanout.remove(self, self._execution_id)

    def _merge(self, event: ExecutionEvent) -> bool:
        last = self._last.get(event.execution_id)
        if last is None or type(last.event) is not type(event):
            return False
        if isinstance(event, Stdout | Stderr) and isinstance(last.event, Stdout | Stderr):
            chars = sum(map(len, event.lines))
            if last.dropped or last.chars + chars > self._line_budget:
                last.dropped += len(event.lines)
            else:
                if last.lines is None:
                    last.lines = list(last.event.lines)
                last.lines.extend(event.lines)
                last.chars += chars
        elif isinstance(event, Progress):
            last.event = event
        else:
            return False
        # The merged event takes no number: later ones move down to keep seq gapless.
        self._merged[event.execution_id] = self._merged.get(event.execution_id, 0) + 1
        return True

    def _wake(self) -> None:
        with self._lock:
            self._wake_scheduled = False
            waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        """Unsubscribe, on the loop's thread; the reader gets what is buffered, then the end."""
        self._fanout.remove(self, self._execution_id)
        with self._lock:
            self._ended = True
            waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def __aenter__(self) -> Self:
        if self._loop is not None:
            raise RuntimeError("an event stream can be entered only once")
        self._loop = asyncio.get_running_loop()
        self._fanout.add(self, self._execution_id)
        # Asked after subscribing, so no event falls between the answer and the subscription.
        try:
            ended = self._ended_already()
        except BaseException:
            self.close()
            raise
        if ended:
            self.close()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        with self._lock:
            self._buffer.clear()  # nobody reads a stream whose block is left
            self._last.clear()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ExecutionEvent:
        if self._loop is None:
            raise RuntimeError("enter the stream first: async with engine.events() as stream")
        while True:
            with self._lock:
                if self._buffer:
                    item = self._buffer.popleft()
                    if self._last.get(item.event.execution_id) is item:
                        del self._last[item.event.execution_id]
                    return item.build()
                if self._ended:
                    break
                waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                with self._lock:
                    if self._waiter is waiter:
                        self._waiter = None
        self.close()
        raise StopAsyncIteration
