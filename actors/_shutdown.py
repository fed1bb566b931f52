"""The order an engine's parts stop in, within one deadline.

First the executions end (the supervisor cancels everything and answers a
future of "no worker left"), then the actors that could start more work, then
the threads that carry facts out (lifecycle, history), the worker threads, the
launcher, and last the event-dispatch thread, so observers see every terminal
event. A part that does not stop in time is logged and left behind; the next
one still gets its turn.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, cast

import pykka

from ._dispatch import EventDispatcher
from ._history import ExecutionHistory
from ._lifecycle import LifecycleHook
from ._supervisor_messages import Shutdown
from ._threads import ThreadPool
from .backends import Launcher

__all__ = ["EngineParts", "shut_down"]

_log = logging.getLogger("actors.engine")


@dataclass(frozen=True, slots=True)
class EngineParts:
    """Everything an engine started, in the order it is stopped."""

    prefix: str
    """The engine's thread-name prefix: every thread it started is named from it."""
    supervisor: pykka.ActorRef[Any]
    janitor: pykka.ActorRef[Any] | None
    lifecycle: LifecycleHook
    history: ExecutionHistory | None
    threads: ThreadPool
    launcher: Launcher
    dispatcher: EventDispatcher


def shut_down(parts: EngineParts, timeout: float) -> None:
    """Cancel every execution, kill every process group, stop every part within ``timeout``."""
    deadline = time.monotonic() + timeout

    def left() -> float:
        return max(0.0, deadline - time.monotonic())

    try:
        drained = cast(
            concurrent.futures.Future[None], parts.supervisor.ask(Shutdown(), timeout=left())
        )
        drained.result(left())
    except (pykka.ActorDeadError, pykka.Timeout, concurrent.futures.TimeoutError):
        _log.error("shutdown: executions did not end within %.1fs", timeout)
    if parts.janitor is not None:
        _stop_actor(parts.janitor, left())
    _stop_actor(parts.supervisor, left())
    if not parts.lifecycle.stop(left()):
        _log.error("shutdown: a lifecycle subscriber is still busy; its thread is abandoned")
    if parts.history is not None and not parts.history.close(left()):
        _log.error("shutdown: the history writer did not end in time")
    if not parts.threads.close(left()):
        _log.error("shutdown: a worker thread did not end in time")
    _close_launcher(parts.launcher)
    if not parts.dispatcher.stop(left()):
        _log.error("shutdown: an observer is still busy; the event thread is abandoned")
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and thread.name.startswith(parts.prefix + "-"):
            thread.join(left())


def _stop_actor(ref: pykka.ActorRef[Any], timeout: float) -> None:
    try:
        ref.stop(block=True, timeout=timeout)
    except pykka.Timeout:
        _log.error("shutdown: %s did not stop in time", ref)
    except pykka.ActorDeadError:
        pass


def _close_launcher(launcher: Launcher) -> None:
    # The engine owns its launcher: a remote one holds a connection or a
    # helper process that must not outlive shutdown().
    close = getattr(launcher, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            _log.exception("shutdown: closing the launcher failed")
