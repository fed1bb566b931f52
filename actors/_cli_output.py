"""From events to the screen: the command-line tool's rows, counts and views.

``Batch`` is the engine's ``EventHandler``: on the event-dispatch thread it
keeps one row per command and hands each event to a view, which writes tagged
lines and a status line, JSON, or a single command's plain output. A view's
``finish`` runs on the main thread once the engine has stopped. A lock keeps
each event's output in one piece, written and flushed at once.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from uuid import UUID

from messages import (
    Cancelled,
    Completed,
    ExecutionEvent,
    ExecutionRequest,
    ExecutionStatus,
    Failed,
    Started,
    Stderr,
    Stdout,
)

__all__ = [
    "Batch",
    "Counts",
    "JsonView",
    "PlainView",
    "Row",
    "Sink",
    "TaggedView",
    "View",
    "render_table",
]

CLEAR_LINE = "\r\x1b[2K"


def _nothing() -> None:
    pass


_RESET = "\x1b[0m"
_TAG_COLOURS = ("36", "35", "34", "33", "32", "96", "95", "94", "93", "92")
_STATUS_COLOURS = {
    ExecutionStatus.COMPLETED: "32",
    ExecutionStatus.FAILED: "31",
    ExecutionStatus.TIMED_OUT: "33",
    ExecutionStatus.CANCELLED: "35",
}
_MIN_COMMAND_WIDTH = 12


def paint(text: str, code: str, enabled: bool) -> str:
    """Wrap ``text`` in the ANSI colour ``code`` when ``enabled``."""
    return f"\x1b[{code}m{text}{_RESET}" if enabled else text


def format_duration(ms: int) -> str:
    """``7ms``, ``3.02s`` or ``2m05s``."""
    if ms < 1000:
        return f"{ms}ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f}s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes}m{seconds:02d}s"


@dataclass(slots=True)
class Row:
    """One command of the batch and, once it has ended, how it ended."""

    index: int
    execution_id: UUID
    command: str
    status: ExecutionStatus = ExecutionStatus.PENDING
    exit_code: int | None = None
    duration_ms: int = 0
    error: str | None = None
    """The engine's reason for a failed, timed out or cancelled execution."""

    def to_json(self) -> dict[str, object]:
        """The row as a plain JSON object (the ``executions`` of the summary)."""
        return {
            "index": self.index,
            "execution_id": str(self.execution_id),
            "command": self.command,
            "status": self.status.value,
            "exit_code": self.exit_code,
            "duration_ms": self.duration_ms,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Counts:
    """How far the batch has got."""

    total: int
    pending: int
    running: int
    done: int
    failed: int
    """Of ``done``: the failed and timed out ones."""


class Sink:
    """A binary stream that gets one write and one flush per call.

    When the reader goes away (``| head``) it turns quiet instead of raising, and
    points the file descriptor at /dev/null so the interpreter's last flush at
    exit cannot fail either.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> None:
        """Write ``text`` as UTF-8 and flush; a no-op once the reader is gone."""
        if self.broken or not text:
            return
        try:
            self._stream.write(text.encode("utf-8", "replace"))
            self._stream.flush()
        except BrokenPipeError:
            self.broken = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)


class View:
    """How a run shows its events (``show``) and its end (``finish``); the base shows nothing.

    ``show`` is called on the event-dispatch thread; ``finish`` once, on the main
    thread, after the engine has stopped.
    """

    def __init__(self, out: Sink, err: Sink) -> None:
        self._out, self._err = out, err
        self._lock = threading.Lock()

    @property
    def broken(self) -> bool:
        """True once nobody reads stdout any more."""
        return self._out.broken

    def show(self, event: ExecutionEvent, row: Row, counts: Counts) -> None:
        """Show one event of ``row``'s execution."""

    def finish(self, rows: list[Row], exit_status: int) -> None:
        """Show how the run ended."""


class TaggedView(View):
    """Human output: ``[N]`` before each line (``[N!]`` for stderr), then a summary table.

    ``colour`` paints stdout; ``status_line`` redraws the counts on stderr after
    every event; both fit in ``columns``; ``log_dir`` is named under the summary.
    """

    def __init__(
        self,
        out: Sink,
        err: Sink,
        *,
        total: int,
        colour: bool,
        status_line: bool,
        columns: int,
        log_dir: Path | None,
    ) -> None:
        super().__init__(out, err)
        self._colour, self._status_line, self._columns = colour, status_line, columns
        self._log_dir = log_dir
        self._tag_width = len(str(total)) + 3
        self._started = time.monotonic()

    @classmethod
    def for_terminal(cls, out: Sink, err: Sink, *, total: int, log_dir: Path | None) -> TaggedView:
        """Colour when stdout is a terminal, a status line when stderr is one.

        ``NO_COLOR`` (https://no-color.org) turns colour off; ``TERM=dumb`` both.
        """
        dumb = os.environ.get("TERM") == "dumb"
        return cls(
            out,
            err,
            total=total,
            colour=sys.stdout.isatty() and not dumb and not os.environ.get("NO_COLOR"),
            status_line=sys.stderr.isatty() and not dumb,
            columns=shutil.get_terminal_size((100, 24)).columns,
            log_dir=log_dir,
        )

    def show(self, event: ExecutionEvent, row: Row, counts: Counts) -> None:
        """Write the event's lines, tagged, and redraw the status line."""
        text = ""
        if isinstance(event, Stdout | Stderr):
            tag = self._tag(row.index, isinstance(event, Stderr))
            text = "".join(f"{tag}{line}\n" for line in event.lines)
        with self._lock:
            if not self._status_line:
                self._out.write(text)
                return
            self._err.write(CLEAR_LINE if text else "")
            self._out.write(text)
            self._err.write(CLEAR_LINE + self._status(counts))

    def finish(self, rows: list[Row], exit_status: int) -> None:
        """Clear the status line and write the summary table and the totals."""
        totals = Counter(row.status for row in rows)
        counted = ", ".join(
            paint(f"{totals[s]} {s.value.replace('_', ' ')}", colour, self._colour)
            for s, colour in _STATUS_COLOURS.items()
            if totals[s]
        )
        noun = "command" if len(rows) == 1 else "commands"
        lines = [
            "",
            render_table(rows, colour=self._colour, columns=self._columns),
            f"{len(rows)} {noun} in {format_duration(self._elapsed_ms())}: {counted}",
        ]
        if self._log_dir is not None:
            lines.append(f"logs: {self._log_dir}/<execution id>.log")
        with self._lock:
            self._err.write(CLEAR_LINE if self._status_line else "")
            self._out.write("\n".join(lines) + "\n")

    def _elapsed_ms(self) -> int:
        return round((time.monotonic() - self._started) * 1000)

    def _tag(self, index: int, stderr: bool) -> str:
        plain = f"[{index}!]" if stderr else f"[{index}]"
        padding = " " * (self._tag_width - len(plain) + 1)
        if not self._colour:
            return plain + padding
        colour = _TAG_COLOURS[(index - 1) % len(_TAG_COLOURS)]
        mark = paint("!", "1;31", True) if stderr else ""
        return f"{paint(f'[{index}', colour, True)}{mark}{paint(']', colour, True)}{padding}"

    def _status(self, counts: Counts) -> str:
        failed = f" ({counts.failed} failed)" if counts.failed else ""
        text = (
            f"{counts.done}/{counts.total} done{failed}, {counts.running} running, "
            f"{counts.pending} pending, {format_duration(self._elapsed_ms())}"
        )
        # A line wider than the terminal wraps, and "\r" would then redraw only its tail.
        return paint(text[: max(1, self._columns - 1)], "2", self._colour)


class JsonView(View):
    """One JSON object per event on stdout, then one summary object; nothing else."""

    def show(self, event: ExecutionEvent, row: Row, counts: Counts) -> None:
        """Write the event as its pydantic model serialises it."""
        with self._lock:
            self._out.write(event.model_dump_json() + "\n")

    def finish(self, rows: list[Row], exit_status: int) -> None:
        """Write ``{"type": "summary", "exit_status": N, "executions": [...]}``."""
        executions = [row.to_json() for row in rows]
        summary = {"type": "summary", "exit_status": exit_status, "executions": executions}
        with self._lock:
            self._out.write(json.dumps(summary, separators=(",", ":")) + "\n")


class PlainView(View):
    """A single command's own output: its stdout to stdout, its stderr to stderr."""

    def show(self, event: ExecutionEvent, row: Row, counts: Counts) -> None:
        """Pass the lines through untagged; say why, when it ended without an exit code."""
        with self._lock:
            if isinstance(event, Stdout):
                self._out.write("".join(line + "\n" for line in event.lines))
            elif isinstance(event, Stderr):
                self._err.write("".join(line + "\n" for line in event.lines))
            elif isinstance(event, Failed) and event.reason != "exit_code":
                self._err.write(f"execution-engine: {row.command}: {event.message}\n")


class Batch:
    """The executions of one run: their rows, their counts, and when the last one ends.

    It is the engine's ``EventHandler``: ``on_event`` runs on the event-dispatch
    thread, the only thread that changes the rows while the engine runs.
    """

    def __init__(self, requests: list[ExecutionRequest], view: View) -> None:
        self.rows = {
            request.id: Row(index, request.id, request.command.describe())
            for index, request in enumerate(requests, 1)
        }
        self._view = view
        self._running = self._ended = self._failed = 0
        self._all_ended = threading.Event()
        self.wake: Callable[[], None] = _nothing
        """Called (on the dispatch thread) once every execution has ended."""
        if not self.rows:
            self._all_ended.set()

    def on_event(self, event: ExecutionEvent) -> None:
        """Update the row of the event's execution and show the event."""
        row = self.rows.get(event.execution_id)
        if row is None:
            return
        if isinstance(event, Started):
            row.status = ExecutionStatus.RUNNING
            self._running += 1
        elif isinstance(event, Completed | Failed | Cancelled):
            self._end(row, event)
        self._view.show(event, row, self.counts())
        if self._ended == len(self.rows) or self._view.broken:
            self._all_ended.set()
            self.wake()

    def _end(self, row: Row, event: Completed | Failed | Cancelled) -> None:
        if row.status is ExecutionStatus.RUNNING:
            self._running -= 1
        self._ended += 1
        row.duration_ms = event.duration_ms
        if isinstance(event, Completed):
            row.status, row.exit_code = ExecutionStatus.COMPLETED, event.exit_code
        elif isinstance(event, Failed):
            timed_out = event.reason == "timeout"
            row.status = ExecutionStatus.TIMED_OUT if timed_out else ExecutionStatus.FAILED
            row.exit_code, row.error = event.exit_code, event.message
            self._failed += 1
        else:
            row.status, row.error = ExecutionStatus.CANCELLED, "cancelled"

    def counts(self) -> Counts:
        """How many executions are pending, running, done, and failed among the done."""
        total = len(self.rows)
        pending = total - self._running - self._ended
        return Counts(total, pending, self._running, self._ended, self._failed)

    def ended(self) -> bool:
        """True once every execution has ended (or nobody reads the output any more)."""
        return self._all_ended.is_set()

    def exit_status(self) -> int:
        """0 when every execution completed, 1 otherwise."""
        ok = all(row.status is ExecutionStatus.COMPLETED for row in self.rows.values())
        return 0 if ok and not self._view.broken else 1


def render_table(rows: list[Row], *, colour: bool, columns: int) -> str:
    """The summary table, like pueue's status: tag, command, status, exit code, duration."""
    header = ("#", "Command", "Status", "Exit", "Duration")
    cells = [
        (
            str(row.index),
            row.command,
            row.status.value,
            "-" if row.exit_code is None else str(row.exit_code),
            format_duration(row.duration_ms),
        )
        for row in rows
    ]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
    fixed = sum(widths) - widths[1] + 2 * (len(header) - 1)
    widths[1] = min(widths[1], max(_MIN_COMMAND_WIDTH, columns - 1 - fixed))
    lines = [_table_line(header, widths, None, colour=False)]
    for row, cell in zip(rows, cells, strict=True):
        lines.append(_table_line(cell, widths, row.status, colour=colour))
    for row in rows:
        if row.status is ExecutionStatus.FAILED and row.exit_code is None and row.error:
            lines.append(f"[{row.index}] {row.error}")
    return "\n".join(lines)


def _table_line(
    cells: tuple[str, ...], widths: list[int], status: ExecutionStatus | None, *, colour: bool
) -> str:
    number, command, state, exit_code, duration = cells
    if len(command) > widths[1]:
        command = command[: widths[1] - 3] + "..."
    parts = [
        number.rjust(widths[0]),
        command.ljust(widths[1]),
        state.ljust(widths[2]),
        exit_code.rjust(widths[3]),
        duration.rjust(widths[4]),
    ]
    if status is not None and status in _STATUS_COLOURS:
        parts[2] = paint(parts[2], _STATUS_COLOURS[status], colour)
    return "  ".join(parts).rstrip()
