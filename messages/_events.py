"""Facts about an execution, sent to observers in order."""

from __future__ import annotations

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

FailureReason = Literal["exit_code", "timeout", "spawn_error", "oversized_output", "internal"]
FailureReason.__doc__ = "Why an execution failed: the ``reason`` of a ``Failed`` event."


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
    command: str
    """The command's description, redacted."""


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
