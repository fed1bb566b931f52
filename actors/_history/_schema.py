"""The history file's schema, its version and the migrations between versions.

A history file is a SQLite database whose ``PRAGMA application_id`` is
``APPLICATION_ID`` and whose ``PRAGMA user_version`` is the schema version.
Anything else at the path — not SQLite, another application's database, a
newer schema — is refused before a byte of it is written.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from messages import ExecutionError

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "connect_reader",
    "connect_writer",
    "migrate",
]

APPLICATION_ID = 0x43454548  # "CEEH": cloudops-execution-engine history
"""Marks a SQLite file as an execution history."""

# Each migration takes the file from version i to i + 1 (MIGRATIONS[0]: 0 -> 1).
_V1 = (
    """CREATE TABLE executions (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL DEFAULT 'pending',
        command TEXT NOT NULL,
        labels TEXT NOT NULL,
        request TEXT NOT NULL,
        queued_us INTEGER NOT NULL,
        started_us INTEGER,
        completed_us INTEGER,
        exit_code INTEGER,
        pid INTEGER,
        log_path TEXT,
        stdout_spill TEXT,
        stderr_spill TEXT,
        stdout TEXT,
        stderr TEXT,
        error TEXT,
        duration_ms INTEGER,
        stdout_truncated INTEGER,
        stderr_truncated INTEGER,
        stdout_dropped INTEGER,
        stderr_dropped INTEGER,
        node TEXT
    )""",
    "CREATE INDEX executions_ended ON executions(completed_us, seq) WHERE completed_us IS NOT NULL",
)
_V2 = (
    """CREATE TABLE hosts (
        id INTEGER PRIMARY KEY,
        pid INTEGER NOT NULL,
        hostname TEXT NOT NULL,
        started_us INTEGER NOT NULL,
        ended_us INTEGER
    )""",
    "ALTER TABLE executions ADD COLUMN host INTEGER REFERENCES hosts(id)",
    "CREATE INDEX executions_status ON executions(status, seq)",
)
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2)
"""The statements of each migration, in order; version N has run the first N."""
SCHEMA_VERSION = len(MIGRATIONS)
"""The version this code writes and reads."""

_BUSY_TIMEOUT_MS = 5_000


def _not_history(path: Path, why: str) -> ExecutionError:
    return ExecutionError(f"history_path={str(path)!r} is not an execution history file: {why}")


def _probe(conn: sqlite3.Connection, path: Path) -> tuple[int, int, int]:
    """Read the file's application id, schema version and table count without writing."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise _not_history(path, f"{exc} (not a SQLite database, or damaged)") from exc
    return int(app_id), int(version), int(tables)


def _check(path: Path, app_id: int, version: int, tables: int) -> None:
    if app_id == 0 and version == 0 and tables == 0:
        return  # a new, empty database
    if app_id != APPLICATION_ID:
        raise _not_history(path, f"a SQLite database of another application (id {app_id:#x})")
    if version > SCHEMA_VERSION:
        raise _not_history(
            path, f"schema version {version} is newer than this engine's ({SCHEMA_VERSION})"
        )


def connect_writer(path: Path) -> sqlite3.Connection:
    """Open (creating it 0600 if missing) and check the history at ``path`` for writing.

    Nothing is written to a file that turns out not to be a history file.

    Raises:
        ExecutionError: the file is not SQLite, belongs to another application
            or has a newer schema; the message names the file.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise ExecutionError(f"cannot create history_path={str(path)!r}: {exc}") from exc
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise ExecutionError(f"cannot open history_path={str(path)!r}: {exc}") from exc
    try:
        _check(path, *_probe(conn, path))
        conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
            # Only possible before the first table exists; makes pruning shrink the file.
            conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("PRAGMA journal_mode=WAL")
        # In WAL mode a commit survives a crash of this process at NORMAL (only
        # power loss needs FULL), and NORMAL syncs at checkpoints, not per commit.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA journal_size_limit=4194304")
    except BaseException:
        conn.close()
        raise
    return conn


def connect_reader(path: Path) -> sqlite3.Connection:
    """Open the history at ``path`` for reading only; never creates or changes it.

    Raises:
        ExecutionError: no such file, or not a history file of this schema version.
    """
    if not path.is_file():
        raise ExecutionError(f"no history file at {str(path)!r}")
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=rw", uri=True)
    except sqlite3.Error as exc:
        raise ExecutionError(f"cannot open history file {str(path)!r}: {exc}") from exc
    try:
        app_id, version, tables = _probe(conn, path)
        if tables == 0:
            raise _not_history(path, "the database is empty")
        _check(path, app_id, version, tables)
        if version < SCHEMA_VERSION:
            raise ExecutionError(
                f"history file {str(path)!r} has schema version {version}; an engine"
                f" opening it upgrades it to {SCHEMA_VERSION}"
            )
        conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only=1")
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(
    conn: sqlite3.Connection,
    path: Path,
    migrations: tuple[tuple[str, ...], ...] = MIGRATIONS,
) -> int:
    """Run the migrations the file has not had, each in one transaction; returns its version.

    Args:
        conn: a connection from ``connect_writer``.
        path: the file, for error messages.
        migrations: the migrations to reach (tests pass a prefix to build an
            older file).
    """
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    for target in range(version + 1, len(migrations) + 1):
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in migrations[target - 1]:
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={target}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise ExecutionError(
                f"cannot upgrade history file {str(path)!r} to schema version {target}: {exc}"
            ) from exc
        version = target
    return version
