"""The per-execution log file: one line per output line, tagged with stream and time."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["ExecutionLog", "delete_files", "prepare_log_dir"]

_log = logging.getLogger("actors.logfile")


def prepare_log_dir(path: Path) -> None:
    """Create the log folder, private to the user (0700), if it is missing."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ExecutionLog:
    """Appends tagged lines to ``<log_dir>/<execution id>.log`` (mode 0600).

    A failing write (disk full, folder gone) is reported once through
    ``logging`` and turns the log off; the execution itself goes on.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.error: str | None = None
        self._fd: int | None = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600
        )

    def write(self, tag: str, lines: list[str] | tuple[str, ...]) -> None:
        """Write ``lines`` under ``tag`` (``stdout``, ``stderr`` or ``engine``)."""
        if self._fd is None or not lines:
            return
        prefix = f"{_stamp(datetime.now(UTC))} {tag} | "
        text = prefix + ("\n" + prefix).join(lines) + "\n"
        try:
            os.write(self._fd, text.encode("utf-8", "replace"))
        except OSError as exc:
            self.error = f"log file {self.path}: {exc.strerror or exc}"
            _log.error("writing the execution log failed; the log is now off: %s", self.error)
            self.close()

    def close(self) -> None:
        """Close the file; later writes are ignored."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def delete_files(paths: Iterable[Path | None]) -> None:
    """Delete an evicted execution's files (log, spill files); a failure is logged, not raised."""
    for path in {p for p in paths if p is not None}:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            _log.warning("could not delete %s of an evicted execution: %s", path, exc)
