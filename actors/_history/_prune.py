"""Retention: prune old terminal executions and the files only they point to."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

__all__ = ["delete_files", "prune"]

_log = logging.getLogger("actors.history")

_FILES = "log_path, stdout_spill, stderr_spill"
_BY_AGE = "completed_us IS NOT NULL AND completed_us < ?"
_OLDEST = (
    "seq IN (SELECT seq FROM executions WHERE completed_us IS NOT NULL"
    " ORDER BY completed_us, seq LIMIT ?)"
)


def _take(conn: sqlite3.Connection, where: str, arg: int, files: set[str]) -> int:
    for row in conn.execute(f"SELECT {_FILES} FROM executions WHERE {where}", (arg,)):
        files.update(p for p in row if p is not None)
    return conn.execute(f"DELETE FROM executions WHERE {where}", (arg,)).rowcount


def prune(conn: sqlite3.Connection, cutoff_us: int, max_executions: int) -> tuple[int, list[Path]]:
    """Delete terminal rows ended before ``cutoff_us``, then the oldest beyond the count.

    Runs in the caller's transaction. Pending and running rows are never
    deleted (they have no ``completed_us``).

    Returns:
        How many rows went, and their log and spill files that no remaining
        row points to (to delete once the transaction is committed).
    """
    files: set[str] = set()
    pruned = _take(conn, _BY_AGE, cutoff_us, files)
    excess = conn.execute("SELECT count(*) FROM executions").fetchone()[0] - max_executions
    if excess > 0:
        pruned += _take(conn, _OLDEST, excess, files)
    if files:
        for row in conn.execute(
            f"SELECT {_FILES} FROM executions WHERE log_path IS NOT NULL"
            " OR stdout_spill IS NOT NULL OR stderr_spill IS NOT NULL"
        ):
            files.difference_update(row)
    return pruned, [Path(p) for p in sorted(files)]


def delete_files(paths: list[Path]) -> None:
    """Unlink ``paths``; a file already gone is fine, another error is logged."""
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            _log.warning("history: cannot delete %s of a pruned execution: %s", path, exc)
