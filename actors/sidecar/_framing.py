"""Reading newline-delimited JSON-RPC from a file descriptor, a bounded line at a time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["MAX_LINE_BYTES", "Oversized", "read_lines"]

MAX_LINE_BYTES = 1024 * 1024
"""The longest line served; a longer one is skipped to its end and answered with an error."""

_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Oversized:
    """A line longer than the cap, skipped without being held in memory."""

    size: int
    """How many bytes it had (without its line break)."""


def read_lines(fd: int, limit: int = MAX_LINE_BYTES) -> Iterator[bytes | Oversized]:
    """Yield each line read from ``fd`` (without ``\\n``; ``\\r\\n`` counts as one break).

    Reads in 64 KiB chunks and never holds more than ``limit`` plus one chunk:
    the bytes of a line beyond ``limit`` are counted and dropped, and the line
    is yielded as ``Oversized``. Blank lines are skipped. Ends at end of file (a
    last line without a break is still yielded) or when reading fails.
    """
    buffer = bytearray()
    skipping = 0  # > 0 while dropping the rest of an oversized line
    while True:
        try:
            chunk = os.read(fd, _CHUNK)
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for safety
            continue
        except OSError:
            chunk = b""
        if not chunk:
            break
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if skipping:
                skipping += len(piece)
            elif len(buffer) + len(piece) > limit:
                skipping = len(buffer) + len(piece)
                buffer.clear()
            else:
                buffer += piece
            if end < 0:
                break
            start = end + 1
            if skipping:
                yield Oversized(skipping)
                skipping = 0
            else:
                line = bytes(buffer).rstrip(b"\r")
                buffer.clear()
                if line.strip():
                    yield line
    if skipping:
        yield Oversized(skipping)
    elif bytes(buffer).strip():
        yield bytes(buffer).rstrip(b"\r")
