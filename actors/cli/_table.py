"""The summary table and the colours and durations of human output."""

from __future__ import annotations

from messages import ExecutionStatus

from ._rows import Row

__all__ = ["STATUS_COLOURS", "format_duration", "paint", "render_table"]

_RESET = "\x1b[0m"
STATUS_COLOURS = {
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
    if status is not None and status in STATUS_COLOURS:
        parts[2] = paint(parts[2], STATUS_COLOURS[status], colour)
    return "  ".join(parts).rstrip()
