"""Daemon threads that carry worker actors, reused from one execution to the next.

Starting a thread costs more than anything else the engine does per execution
besides the spawn itself (the starter waits until the new thread runs, which
under GIL contention took hundreds of microseconds on the supervisor's
thread). Each worker actor still has its own inbox and loop; only the thread
under it is recycled.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable

__all__ = ["ThreadPool"]

_log = logging.getLogger("actors.threads")

Task = Callable[[], object]


class ThreadPool:
    """Runs each submitted task on an idle thread, or on a new one when none is idle.

    Threads are daemons, so an app that never calls ``shutdown()`` can still
    exit; a thread idle for ``idle_timeout`` seconds ends, so a burst of
    concurrency does not leave its threads behind for ever.
    """

    def __init__(self, name_prefix: str, idle_timeout: float = 30.0) -> None:
        self._prefix = name_prefix
        self._idle_timeout = idle_timeout
        self._tasks: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        # Invariant: _idle == threads waiting for a task - tasks queued for them.
        self._idle = 0
        self._threads: set[threading.Thread] = set()
        self._numbers = itertools.count(1)
        self._closed = False

    def submit(self, task: Task) -> None:
        """Run ``task`` on a pool thread; raises ``RuntimeError`` once closed."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the thread pool is closed")
            if self._idle > 0:
                self._idle -= 1
                self._tasks.put(task)
                return
            thread = threading.Thread(
                target=self._work,
                args=(task,),
                name=f"{self._prefix}-{next(self._numbers)}",
                daemon=True,
            )
            self._threads.add(thread)
        try:
            thread.start()
        except BaseException:
            with self._lock:
                self._threads.discard(thread)
            raise

    def close(self, timeout: float) -> bool:
        """End every thread once its task is done; False if some did not end in time."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._tasks.put(None)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)

    def _work(self, task: Task | None) -> None:
        name = threading.current_thread().name
        while task is not None:
            try:
                task()
            except BaseException:  # a task must never take the thread down silently
                _log.exception("a task on %s failed", name)
            threading.current_thread().name = name
            task = self._next_task()
        with self._lock:
            self._threads.discard(threading.current_thread())

    def _next_task(self) -> Task | None:
        with self._lock:
            if self._closed:
                return None
            self._idle += 1
        try:
            return self._tasks.get(timeout=self._idle_timeout)
        except queue.Empty:
            with self._lock:
                try:
                    # A submit counted on this thread just before the timeout.
                    return self._tasks.get_nowait()
                except queue.Empty:
                    self._idle -= 1
                    return None
