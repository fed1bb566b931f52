"""The SQLite history: every execution recorded across restarts and crashes."""

from ._history import ExecutionHistory, start_history

__all__ = ["ExecutionHistory", "start_history"]
