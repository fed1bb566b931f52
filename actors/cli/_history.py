"""The CLI's history: ``--no-history``/``--history-file``, and the ``history`` and ``show`` verbs.

Only the public ``ExecutionHistory`` is used, so these commands work while
another process (a ``run``, a ``serve``) writes the file.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

from actors import ExecutionEngine, ExecutionHistory
from messages import ExecutionConfig, ExecutionError, ExecutionStatus, ExecutionSummary

from ._argtypes import positive_int

__all__ = [
    "add_history_commands",
    "add_history_options",
    "default_history_path",
    "engine_for_cli",
    "history_path",
    "run_history",
    "run_show",
]

_STATUSES = [s.value for s in ExecutionStatus]


def default_history_path() -> Path:
    """``$XDG_STATE_HOME/cloudops-execution-engine/history.sqlite3`` (``~/.local/state``)."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(state) / "cloudops-execution-engine" / "history.sqlite3"


def add_history_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--history-file FILE`` and ``--no-history`` to a command that runs an engine."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--history-file",
        type=Path,
        metavar="FILE",
        help="record every execution in this SQLite file "
        "(default: $XDG_STATE_HOME/cloudops-execution-engine/history.sqlite3)",
    )
    group.add_argument("--no-history", action="store_true", help="record nothing")


def history_path(args: argparse.Namespace) -> Path | None:
    """The ``history_path`` for the engine of a parsed command; None with ``--no-history``."""
    if getattr(args, "no_history", False):
        return None
    chosen: Path | None = getattr(args, "history_file", None)
    return chosen if chosen is not None else default_history_path()


def engine_for_cli(
    config: ExecutionConfig, warn: Callable[[str], None], **engine_options: Any
) -> ExecutionEngine:
    """The CLI's engine: with its history if it can, else without it and a warning.

    Two ``execution-engine run`` at once is ordinary at a terminal; the second
    must still run its commands, so a history file that another engine holds
    (or that cannot be used) costs a warning, not the run. Every history
    error names the file, which is how it is told from other errors.
    """
    try:
        return ExecutionEngine(config, **engine_options)
    except ExecutionError as exc:
        path = config.history_path
        if path is None or str(path) not in str(exc):
            raise
        warn(f"{exc}; this run is not recorded")
        return ExecutionEngine(config.model_copy(update={"history_path": None}), **engine_options)


def add_history_commands(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
) -> None:
    """Add the ``history`` and ``show`` subcommands to the CLI's subparsers."""
    listing = commands.add_parser(
        "history",
        allow_abbrev=False,
        help="list past executions, newest first",
        description="List the executions recorded in the history file, newest first. "
        "Works while another process writes the file.",
    )
    _file_option(listing)
    listing.add_argument("--status", choices=_STATUSES, help="only executions of this status")
    listing.add_argument(
        "--limit", type=positive_int, default=20, metavar="N", help="at most N rows (default 20)"
    )
    listing.add_argument(
        "--json", action="store_true", help="one JSON array of ExecutionSummary objects"
    )
    show = commands.add_parser(
        "show",
        allow_abbrev=False,
        help="show one past execution: status and output",
        description="Print one recorded execution's status and its stdout and stderr.",
    )
    _file_option(show)
    show.add_argument("id", type=_uuid, metavar="ID", help="the execution id")
    show.add_argument("--json", action="store_true", help="print the ExecutionResult as JSON")


def run_history(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``execution-engine history``: exit 0, or 1 when the file cannot be read."""
    try:
        history = ExecutionHistory.open(_file(args))
        rows = history.list(status=args.status, limit=args.limit)
    except ExecutionError as exc:
        err.write(f"execution-engine: error: {exc}\n")
        return 1
    if args.json:
        out.write("[" + ",".join(row.model_dump_json() for row in rows) + "]\n")
        return 0
    out.write(f"{'ID':36}  {'STATUS':11}  {'EXIT':>4}  {'QUEUED':19}  {'TIME':>8}  COMMAND\n")
    for row in rows:
        out.write(_line(row) + "\n")
    return 0


def run_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``execution-engine show ID``: exit 0, or 1 when unknown, unfinished or unreadable."""
    try:
        history = ExecutionHistory.open(_file(args))
        summary = history.summary(args.id)
        result = history.get(args.id) if summary.status.is_terminal else None
    except ExecutionError as exc:
        err.write(f"execution-engine: error: {exc}\n")
        return 1
    if result is None:
        err.write(
            f"execution-engine: execution {args.id} is still {summary.status.value}; "
            "no result yet\n"
        )
        if args.json:
            return 1
        out.write(_line(summary) + "\n")
        return 1
    if args.json:
        out.write(result.model_dump_json() + "\n")
        return 0
    out.write(f"{summary.command}\n")
    exit_code = "-" if result.exit_code is None else result.exit_code
    out.write(f"status: {result.status.value}  exit code: {exit_code}")
    out.write(f"  duration: {result.duration_ms / 1000:.3f}s\n")
    if result.error:
        out.write(f"error: {result.error}\n")
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        if text:
            out.write(f"--- {name} ---\n{text}\n")
    return 0


def _file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--history-file",
        type=Path,
        metavar="FILE",
        help="the history file (default: $XDG_STATE_HOME/cloudops-execution-engine/"
        "history.sqlite3)",
    )


def _file(args: argparse.Namespace) -> Path:
    chosen: Path | None = args.history_file
    return chosen if chosen is not None else default_history_path()


def _line(row: ExecutionSummary) -> str:
    exit_code = "" if row.exit_code is None else str(row.exit_code)
    queued = row.queued_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    took = ""
    if row.started_at is not None and row.completed_at is not None:
        took = f"{(row.completed_at - row.started_at).total_seconds():.3f}s"
    return (
        f"{row.execution_id}  {row.status.value:11}  {exit_code:>4}  {queued:19}  {took:>8}"
        f"  {_one_line(row.command)}"
    )


def _one_line(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


def _uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an execution id (a UUID): {text!r}") from None
