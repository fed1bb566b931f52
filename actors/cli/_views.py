"""From events to the screen: tagged lines and a status line, JSON, or plain output.

A view's ``show`` runs on the engine's event-dispatch thread (``Batch`` calls
it); its ``finish`` on the main thread once the engine has stopped. A lock keeps
each event's output in one piece, written and flushed at once.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import BinaryIO

from messages import BatchSummary, ErrorInfo, ExecutionEvent, Failed, Stderr, Stdout

from ._rows import Counts, Row
from ._table import STATUS_COLOURS, format_duration, paint, render_table

__all__ = ["CLEAR_LINE", "JsonView", "PlainView", "Sink", "TaggedView", "View"]

CLEAR_LINE = "\r\x1b[2K"
_TAG_COLOURS = ("36", "35", "34", "33", "32", "96", "95", "94", "93", "92")


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

    def error(self, error: ErrorInfo) -> None:
        """Show an error that ends the run (``main`` also writes it to stderr)."""


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
            for s, colour in STATUS_COLOURS.items()
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
        summary = BatchSummary(
            exit_status=exit_status, executions=tuple(row.to_model() for row in rows)
        )
        with self._lock:
            self._out.write(summary.model_dump_json() + "\n")

    def error(self, error: ErrorInfo) -> None:
        """Write an error that ends the run as one ``ErrorInfo`` object."""
        with self._lock:
            self._out.write(error.model_dump_json() + "\n")


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
