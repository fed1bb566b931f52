"""The SSE hub: one engine-wide event stream, a bounded ring buffer, many readers.

One task reads the engine's events and appends each, already framed as SSE
bytes, to a ring buffer with a cursor per event. Every client stream keeps
only its own cursor: a client that stops reading costs nothing but that
integer, and one that falls out of the buffer gets a ``reset`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from uuid import UUID

from messages import EngineStopped, ExecutionEvent

from ._security import Redactor

__all__ = ["EventHub", "HubFull"]

_log = logging.getLogger("actors.web")

_TERMINAL = frozenset({"completed", "failed", "cancelled"})
# One write per wake-up at most this many frames, so a reader far behind
# sends the buffer in slices rather than one giant chunk.
_FRAMES_PER_WRITE = 512

EventSource = Callable[[], AbstractAsyncContextManager[AsyncIterator[ExecutionEvent]]]


@dataclass(frozen=True, slots=True)
class _Entry:
    execution_id: UUID
    type: str
    frame: bytes


class HubFull(Exception):
    """The hub already serves ``max_clients`` streams."""


class EventHub:
    """Keeps the last events as SSE frames and fans them out to client streams.

    Args:
        redactor: masks secrets in every frame.
        max_events: how many events the buffer holds at most.
        max_bytes: how many bytes of frames the buffer holds at most.
        max_clients: how many streams may be open at once.
        keepalive: seconds between comment lines on an idle stream.
    """

    def __init__(
        self,
        redactor: Redactor,
        *,
        max_events: int = 10_000,
        max_bytes: int = 32 * 1024 * 1024,
        max_clients: int = 500,
        keepalive: float = 15.0,
    ) -> None:
        self._redactor = redactor
        self._capacity = max_events
        self._max_bytes = max_bytes
        self._max_clients = max_clients
        self._keepalive = keepalive
        self.epoch = secrets.token_hex(4)
        self._ring: list[_Entry | None] = [None] * max_events
        self._first = 1  # the oldest cursor held
        self._last = 0  # the newest cursor given
        self._bytes = 0
        self._clients = 0
        self._closed = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def clients(self) -> int:
        """How many streams are open."""
        return self._clients

    @property
    def running(self) -> bool:
        """True while the task reading the engine's events runs."""
        return self._task is not None and not self._task.done()

    def start(self, source: EventSource) -> None:
        """Start reading ``source`` on the running loop; a no-op when already reading."""
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._read(source))

    async def close(self) -> None:
        """Stop reading and end every client stream."""
        self._closed = True
        self._wake_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def publish(self, event: ExecutionEvent) -> None:
        """Append one event to the buffer and wake the streams."""
        self._last += 1
        cursor = self._last
        data = self._redactor.json(event.model_dump_json())
        frame = f"id: {self.epoch}:{cursor}\nevent: {event.type}\ndata: {data}\n\n".encode()
        slot = cursor % self._capacity
        old = self._ring[slot]
        if old is not None:
            self._bytes -= len(old.frame)
            self._first = max(self._first, cursor - self._capacity + 1)
        self._ring[slot] = _Entry(event.execution_id, event.type, frame)
        self._bytes += len(frame)
        while self._bytes > self._max_bytes and self._first < cursor:
            self._drop_oldest()
        self._wake_all()

    async def stream(
        self,
        last_event_id: str | None,
        execution_id: UUID | None = None,
        types: frozenset[str] | None = None,
    ) -> AsyncGenerator[bytes]:
        """SSE bytes for one client, from ``last_event_id`` on (or now), until closed.

        Without ``last_event_id`` a stream of one execution starts with what the
        buffer still holds of it; an engine-wide stream starts with the next event.

        Raises:
            HubFull: ``max_clients`` streams are already open.
        """
        if self._clients >= self._max_clients:
            raise HubFull(self._max_clients)
        return self._frames(last_event_id, execution_id, types)

    async def _frames(
        self, last_event_id: str | None, execution_id: UUID | None, types: frozenset[str] | None
    ) -> AsyncGenerator[bytes]:
        # Counted once running: a generator that never starts never runs `finally`.
        self._clients += 1
        try:
            cursor, reset = self._resume_point(last_event_id, execution_id)
            yield b"retry: 2000\n\n"
            if reset:
                yield self._reset_frame()
            while not self._closed:
                wake = self._wake
                if cursor < self._first - 1:
                    cursor = self._last
                    yield self._reset_frame()
                    continue
                if cursor < self._last:
                    stop = min(self._last, cursor + _FRAMES_PER_WRITE)
                    chunk = self._slice(cursor, stop, execution_id, types)
                    cursor = stop
                    if chunk:
                        yield chunk
                    continue
                try:
                    await asyncio.wait_for(wake.wait(), self._keepalive)
                except TimeoutError:
                    yield b": keepalive\n\n"
        finally:
            self._clients -= 1

    def _slice(
        self, after: int, stop: int, execution_id: UUID | None, types: frozenset[str] | None
    ) -> bytes:
        frames: list[bytes] = []
        for cursor in range(max(after, self._first - 1) + 1, stop + 1):
            entry = self._ring[cursor % self._capacity]
            if entry is None:
                continue
            if execution_id is not None and entry.execution_id != execution_id:
                continue
            if types is not None and entry.type not in types:
                continue
            frames.append(entry.frame)
        return b"".join(frames)

    def _resume_point(
        self, last_event_id: str | None, execution_id: UUID | None
    ) -> tuple[int, bool]:
        if last_event_id is None:
            return (self._first - 1 if execution_id is not None else self._last), False
        epoch, _, number = last_event_id.partition(":")
        if epoch != self.epoch or not number.isdigit():
            return self._last, True
        cursor = int(number)
        if cursor > self._last or cursor < self._first - 1:
            return self._last, True
        return cursor, False

    def _reset_frame(self) -> bytes:
        data = f'{{"cursor": "{self.epoch}:{self._last}"}}'
        return f"id: {self.epoch}:{self._last}\nevent: reset\ndata: {data}\n\n".encode()

    def _drop_oldest(self) -> None:
        slot = self._first % self._capacity
        old = self._ring[slot]
        if old is not None:
            self._bytes -= len(old.frame)
            self._ring[slot] = None
        self._first += 1

    def _wake_all(self) -> None:
        wake, self._wake = self._wake, asyncio.Event()
        wake.set()

    async def _read(self, source: EventSource) -> None:
        try:
            async with source() as events:
                async for event in events:
                    self.publish(event)
        except asyncio.CancelledError:
            raise
        except EngineStopped:
            _log.info("the engine was shut down; SSE streams end")
        except Exception:
            _log.exception("the engine's event stream failed; SSE streams end")
        self._closed = True
        self._wake_all()
