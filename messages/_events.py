"""Facts about an execution, sent to observers in order."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from ._base import FrozenModel

__all__ = [
    "Cancelled",
    "Completed",
    "EventBase",
    "ExecutionEvent",
    "Failed",
    "FailureReason",
    "Progress",
    "Started",
    "Stderr",
    "Stdout",
]


class FailureReason(StrEnum):
    """Why an execution failed: the ``reason`` of a ``Failed`` event.

    A ``str`` enum, so ``event.reason == "timeout"`` holds and JSON carries the
    plain value.
    """

    EXIT_CODE = "exit_code"
    """The main process exited with a non-zero code (or died of a signal)."""
    TIMEOUT = "timeout"
    """``timeout_ms`` or ``idle_timeout_ms`` ran out; the group was killed."""
    SPAWN_ERROR = "spawn_error"
    """The command could not be started."""
    OVERSIZED_OUTPUT = "oversized_output"
    """Output exceeded the cap under the ``fail_execution`` strategy."""
    INTERNAL = "internal"
    """A bug or resource failure inside the engine."""
    NODE_LOST = "node_lost"
    """The node running it died, or the connection to it was lost (remote launchers)."""


class EventBase(FrozenModel):
    """Fields every event has."""

    terminal: ClassVar[bool] = False
    """True for the one event that ends an execution's stream of events."""

    execution_id: UUID
    seq: int = Field(ge=1)
    """1, 2, 3... per execution, without gaps."""
    timestamp: AwareDatetime


class Started(EventBase):
    """The main process was spawned."""

    type: Literal["started"] = "started"
    pid: int
    """The main process's id, on the node that runs it."""
    command: str
    """The command's description, redacted."""
    node: str | None = None
    """The node that runs it, for remote launchers; None for a local child."""


class Stdout(EventBase):
    """Whole lines that one read of stdout completed, in order, without line breaks."""

    type: Literal["stdout"] = "stdout"
    lines: tuple[str, ...]


class Stderr(EventBase):
    """Whole lines that one read of stderr completed."""

    type: Literal["stderr"] = "stderr"
    lines: tuple[str, ...]


class Progress(EventBase):
    """A heartbeat of a running execution."""

    type: Literal["progress"] = "progress"
    elapsed_ms: int
    stdout_bytes: int
    stderr_bytes: int


class Completed(EventBase):
    """The execution exited with code 0."""

    terminal: ClassVar[bool] = True
    type: Literal["completed"] = "completed"
    exit_code: int
    duration_ms: int


class Failed(EventBase):
    """The execution failed or timed out."""

    terminal: ClassVar[bool] = True
    type: Literal["failed"] = "failed"
    reason: FailureReason
    exit_code: int | None
    message: str
    duration_ms: int


class Cancelled(EventBase):
    """The execution was cancelled, pending or running."""

    terminal: ClassVar[bool] = True
    type: Literal["cancelled"] = "cancelled"
    duration_ms: int


ExecutionEvent = Annotated[
    Started | Stdout | Stderr | Progress | Completed | Failed | Cancelled,
    Field(discriminator="type"),
]
ExecutionEvent.__doc__ = "Any event, told apart by its ``type`` field."
