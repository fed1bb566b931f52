"""The janitor actor: runs the scheduled cleanup of old executions."""

from __future__ import annotations

import logging
import threading
from typing import Any, cast

import pykka

from messages import RunCleanup

from ._base import EngineActor
from ._history import ExecutionHistory
from ._supervisor_messages import Tick

__all__ = ["JanitorActor"]

_log = logging.getLogger("actors.janitor")

_ASK_TIMEOUT_S = 30.0


class JanitorActor(EngineActor):
    """Every ``interval`` seconds, has the supervisor evict old terminal executions.

    With a ``history``, it then prunes the history file by its retention.

    pykka has no timers, so one daemon ticker thread tells the janitor a
    ``Tick``; stopping the janitor sets an event that ends the ticker at once.
    """

    def __init__(
        self,
        *,
        supervisor: pykka.ActorRef[Any],
        interval: float,
        thread_prefix: str,
        history: ExecutionHistory | None = None,
    ) -> None:
        super().__init__()
        self._supervisor = supervisor
        self._history = history
        self._interval = interval
        self._prefix = thread_prefix
        self._stop_ticker = threading.Event()
        self._ticker: threading.Thread | None = None

    def on_start(self) -> None:
        """Name the thread and start the ticker."""
        threading.current_thread().name = f"{self._prefix}-janitor"
        self._ticker = threading.Thread(
            target=self._tick_loop, name=f"{self._prefix}-janitor-ticker", daemon=True
        )
        self._ticker.start()

    def on_stop(self) -> None:
        """End the ticker thread."""
        self._stop_ticker.set()
        if self._ticker is not None:
            self._ticker.join()

    def on_receive(self, message: Any) -> Any:
        """``Tick`` or ``RunCleanup``: evict now; answers the evicted count."""
        match message:
            case Tick() | RunCleanup():
                return self._on_run_cleanup()
            case _:
                raise TypeError(f"the janitor does not understand {message!r}")

    def _on_run_cleanup(self) -> int:
        try:
            evicted = cast(int, self._supervisor.ask(RunCleanup(), timeout=_ASK_TIMEOUT_S))
        except pykka.ActorDeadError:
            return 0
        except Exception:
            _log.exception("scheduled cleanup failed")
            return 0
        if self._history is not None:
            try:
                self._history.prune(timeout=_ASK_TIMEOUT_S)
            except Exception as exc:  # a full disk must not stop the schedule
                _log.warning("scheduled history prune failed: %s", exc)
        return evicted

    def _tick_loop(self) -> None:
        while not self._stop_ticker.wait(self._interval):
            try:
                self.actor_ref.tell(Tick())
            except pykka.ActorDeadError:
                return
