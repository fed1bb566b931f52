"""What the execution history reports about itself."""

from __future__ import annotations

from pathlib import Path

from ._base import FrozenModel

__all__ = ["HistoryMetrics"]


class HistoryMetrics(FrozenModel):
    """The state of one history file's writer at one moment."""

    path: Path
    """The SQLite file."""
    healthy: bool
    """False while the last write failed (disk full, read-only folder...); writes are retried."""
    recorded: int
    """Lifecycle facts (submissions, starts, ends) committed to the file."""
    commits: int
    """Transactions committed; many facts share one."""
    backlog: int
    """Facts waiting to be committed."""
    write_failures: int
    """Commits that failed and were kept for a retry."""
    dropped: int
    """Facts given up because the backlog outgrew its bound while writes failed."""
    pruned: int
    """Executions pruned from the file by retention."""
    last_error: str | None
    """The last write error, or None."""
