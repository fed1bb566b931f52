"""The SQLite history: every execution recorded across restarts and crashes."""

from ._attach import attach_history
from ._history import ExecutionHistory, start_history

__all__ = ["ExecutionHistory", "attach_history", "start_history"]
