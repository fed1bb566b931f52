"""The one stop policy every backend shares: TERM, grace, KILL, drain, abandon.

A child is stopped by deadlines, never by sleeping: the runner asks ``due`` what
to do now and ``next_deadline`` how long it may wait for the child's next fact.

- A kill (cancel, shutdown, timeout, idle timeout, oversized output) sends
  SIGTERM to the whole process group, then SIGKILL ``kill_grace_ms`` later
  (at once for a hard kill).
- After the main process exits, descendants get ``DRAIN_GRACE_S`` to finish
  writing to the pipes; then the group is killed, so a background job never
  keeps the execution (and its slot) alive.
- A process that escaped the group (it called ``setsid``) may still hold a
  pipe: ``ABANDON_AFTER_S`` after that kill the streams are abandoned.
"""

from __future__ import annotations

import math
import signal
import threading
from enum import Enum, StrEnum

from messages import ExecutionStatus, FailureReason

__all__ = ["ABANDON_AFTER_S", "DRAIN_GRACE_S", "KillReason", "StopAction", "StopPolicy"]

DRAIN_GRACE_S = 0.2
ABANDON_AFTER_S = 0.5


class KillReason(StrEnum):
    """Why the engine kills an execution's process group."""

    CANCEL = "cancel"
    SHUTDOWN = "shutdown"
    TIMEOUT = "timeout"
    IDLE = "idle"
    OVERSIZED = "oversized"

    @property
    def ending(self) -> tuple[ExecutionStatus, FailureReason | None]:
        """The status (and failure reason) an execution killed for this reason ends with."""
        match self:
            case KillReason.CANCEL | KillReason.SHUTDOWN:
                return ExecutionStatus.CANCELLED, None
            case KillReason.TIMEOUT | KillReason.IDLE:
                return ExecutionStatus.TIMED_OUT, FailureReason.TIMEOUT
            case KillReason.OVERSIZED:
                return ExecutionStatus.FAILED, FailureReason.OVERSIZED_OUTPUT


class StopAction(Enum):
    """What the runner must do to the child now."""

    TERM = signal.SIGTERM
    KILL = signal.SIGKILL
    ABANDON = "abandon"


class StopPolicy:
    """The deadlines of one execution; ``request`` is safe from any thread, the rest is not."""

    def __init__(
        self, *, now: float, timeout_s: float, idle_s: float | None, grace_s: float
    ) -> None:
        self.reason: KillReason | None = None
        """Why the group was killed, once it was."""
        self._lock = threading.Lock()
        self._requested: KillReason | None = None
        self._hard = False
        self._timeout_at = now + timeout_s
        self._idle_s = idle_s if idle_s else math.inf
        self._grace_s = grace_s
        self._last_output = now
        self._kill_at = math.inf
        self._term_due = False
        self._exited = False
        self._drain_until = math.inf
        self._abandon_at = math.inf

    def request(self, reason: KillReason, *, hard: bool = False) -> None:
        """Ask for a kill (cancel, shutdown); ``hard`` skips the grace. Any thread."""
        with self._lock:
            if self._requested is None:
                self._requested = reason
            self._hard = self._hard or hard

    def fail(self, reason: KillReason, now: float) -> None:
        """Kill for a reason the runner found itself (oversized output), from the next ``due``."""
        if self.reason is None and not self._exited:
            self._start_kill(reason, now)

    def output_seen(self, now: float) -> None:
        """The child wrote something: the idle timeout starts again."""
        self._last_output = now

    def exited(self, now: float) -> None:
        """The main process exited: the drain window opens."""
        self._exited = True
        self._drain_until = now + DRAIN_GRACE_S

    def due(self, now: float) -> list[StopAction]:
        """The actions whose deadline has passed; call before waiting again."""
        actions: list[StopAction] = []
        if not self._exited:
            if self.reason is None:
                reason = self._kill_due(now)
                if reason is not None:
                    self._start_kill(reason, now)
            if self._term_due:
                self._term_due = False
                actions.append(StopAction.TERM)
            if self._hard and self.reason is not None:
                self._kill_at = min(self._kill_at, now)
            if now >= self._kill_at:
                actions.append(StopAction.KILL)
                self._kill_at = math.inf
            return actions
        if now >= self._drain_until:
            actions.append(StopAction.KILL)
            self._drain_until, self._abandon_at = math.inf, now + ABANDON_AFTER_S
        if now >= self._abandon_at:
            actions.append(StopAction.ABANDON)
            self._abandon_at = math.inf
        return actions

    def next_deadline(self) -> float:
        """The monotonic time of the next deadline (``inf`` when none is armed)."""
        if self._exited:
            return min(self._drain_until, self._abandon_at)
        deadline = self._kill_at
        if self.reason is None:
            deadline = min(deadline, self._timeout_at, self._last_output + self._idle_s)
        return deadline

    def _kill_due(self, now: float) -> KillReason | None:
        with self._lock:
            requested = self._requested
        if requested is not None:
            return requested
        if now >= self._timeout_at:
            return KillReason.TIMEOUT
        if now >= self._last_output + self._idle_s:
            return KillReason.IDLE
        return None

    def _start_kill(self, reason: KillReason, now: float) -> None:
        self.reason = reason
        self._term_due = True
        self._kill_at = now + self._grace_s
