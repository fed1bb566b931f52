"""Wiring a history to an engine: open it, and feed it the engine's lifecycle facts."""

from __future__ import annotations

from messages import ExecutionConfig

from .._lifecycle import LifecycleHook
from ._history import ExecutionHistory, start_history

__all__ = ["attach_history"]


def attach_history(
    config: ExecutionConfig, lifecycle: LifecycleHook, *, thread_name: str
) -> ExecutionHistory | None:
    """The history of ``config.history_path`` subscribed to ``lifecycle``; None without a path.

    Raises:
        ExecutionError: another engine holds the file, or it is not a history file.
    """
    if config.history_path is None:
        return None
    # A flush waits for the facts still in the lifecycle hook's queue too.
    history = start_history(config, thread_name=thread_name, before_flush=lifecycle.wait_idle)
    lifecycle.subscribe(history.record)
    return history
