"""Recovery on start: what a dead host left pending or running becomes ``interrupted``.

Only the engine holding the file's lock runs this, so every pending or
running row belongs to a host that is gone. Nothing is re-run: the rows only
get a terminal status and a result that says what happened.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from datetime import UTC, datetime

from ._rows import to_us

__all__ = ["recover", "register_host"]


def register_host(conn: sqlite3.Connection) -> int:
    """Add this process to ``hosts`` (in the caller's transaction); returns its host id."""
    cursor = conn.execute(
        "INSERT INTO hosts (pid, hostname, started_us) VALUES (?, ?, ?)",
        (os.getpid(), socket.gethostname(), to_us(datetime.now(UTC))),
    )
    host = cursor.lastrowid
    assert host is not None
    return host


def recover(conn: sqlite3.Connection, now: datetime) -> int:
    """Mark every pending or running row ``interrupted`` (in the caller's transaction).

    Returns:
        How many rows were interrupted.
    """
    rows = conn.execute(
        "SELECT e.seq, e.started_us, h.pid, h.hostname"
        " FROM executions e LEFT JOIN hosts h ON h.id = e.host"
        " WHERE e.status IN ('pending', 'running')"
    ).fetchall()
    now_us = to_us(now)
    for seq, started, host_pid, hostname in rows:
        host = f"pid {host_pid} on {hostname}" if host_pid is not None else "an earlier process"
        was = "running" if started is not None else "pending"
        error = (
            f"interrupted: it was {was} when the process hosting its engine ({host})"
            " died; it was not re-run"
        )
        conn.execute(
            "UPDATE executions SET status = 'interrupted', completed_us = ?, error = ?,"
            " exit_code = NULL, duration_ms = 0, stdout = '', stderr = '' WHERE seq = ?",
            (now_us, error, seq),
        )
    conn.execute("UPDATE hosts SET ended_us = ? WHERE ended_us IS NULL", (now_us,))
    return len(rows)
