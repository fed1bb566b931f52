"""The engine-wide event stream the hub reads."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from actors import ExecutionEngine, signals
from messages import ExecutionEvent

__all__ = ["engine_events"]


@contextlib.asynccontextmanager
async def engine_events(engine: ExecutionEngine) -> AsyncIterator[AsyncIterator[ExecutionEvent]]:
    """Every event of ``engine``, in order per execution, while the block lasts."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[ExecutionEvent] = asyncio.Queue()

    def receive(sender: Any, *, event: ExecutionEvent) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, event)

    signals.event.connect(receive, sender=engine, weak=False)

    async def events() -> AsyncIterator[ExecutionEvent]:
        while True:
            yield await queue.get()

    try:
        yield events()
    finally:
        signals.event.disconnect(receive, sender=engine)
