"""Turning the raw bytes of one pipe into redacted lines under an output cap."""

from __future__ import annotations

import codecs
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

from messages import OversizedOutputStrategy, Stderr, Stdout

__all__ = ["Redactor", "StreamCollector"]

MASK = "***"

_log = logging.getLogger("actors.streams")


class Redactor:
    """Replaces each secret by ``***``; a no-op when there are none.

    One left-to-right scan, trying the longest secret first at each position:
    a secret that contains another is masked whole, and redacting a line in
    pieces (``prefix``) gives the same text as redacting it at once.
    """

    __slots__ = ("_pattern", "longest", "secrets")

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = tuple(sorted(set(secrets), key=len, reverse=True))
        self.longest = max((len(s) for s in self.secrets), default=0)
        self._pattern = re.compile("|".join(map(re.escape, self.secrets))) if secrets else None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def prefix(self, text: str, end: int) -> tuple[str, int]:
        """Redact the secrets that start before ``end``; return the text and where it stops.

        The caller guarantees every secret starting before ``end`` is whole in
        ``text``. The redacted part reaches past ``end`` when a secret does.
        """
        if self._pattern is None:
            return text[:end], end
        parts: list[str] = []
        position = 0
        for match in self._pattern.finditer(text):
            if match.start() >= end:
                break
            parts += [text[position : match.start()], MASK]
            position = match.end()
        stop = max(end, position)
        parts.append(text[position:stop])
        return "".join(parts), stop


class StreamCollector:
    """Decodes, splits, redacts and caps one output stream.

    ``feed`` takes the bytes of one read and returns the whole lines that read
    completed, which the caller forwards to observers and the log. The lines
    kept for the result are in ``lines``. Counting is in raw bytes, so the cap
    holds whatever the encoding.

    The work is per read, not per line: a read's lines are kept as the one
    string they were split from, so keeping them (and joining them for the
    result) never walks the lines, and the long-line check looks at the read's
    length first. A flood of short lines costs the split and nothing else.
    """

    def __init__(
        self,
        name: str,
        *,
        limit: int,
        strategy: OversizedOutputStrategy,
        max_line_length: int,
        redactor: Redactor,
        spill_path: Callable[[], Path | None],
    ) -> None:
        self.name = name
        self.event_type: type[Stdout] | type[Stderr] = Stdout if name == "stdout" else Stderr
        # The kept output: each item is one or more whole lines joined by "\n".
        self._texts: list[str] = []
        self.bytes_read = 0
        self.dropped_bytes = 0
        self.truncated = False
        self.overflowed = False
        self.spill_path: Path | None = None
        self.spill_error: str | None = None
        self._limit = limit
        self._kept = 0
        self._strategy = strategy
        self._max_line = max_line_length
        self._redact = redactor
        self._spill_path_factory = spill_path
        self._spill_fd: int | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # The line being read: _clean is its redacted start (cut into pieces
        # when too long), _partial the raw rest, not yet safe to redact.
        self._clean = ""
        self._partial = ""

    def feed(self, data: bytes) -> list[str]:
        """Take one read's bytes; return the lines it completed (redacted)."""
        self.bytes_read += len(data)
        if self.overflowed:
            return self._beyond_cap(data)
        room = self._limit - self._kept
        if len(data) <= room:
            self._kept += len(data)
            return self._keep(*self._split(self._decoder.decode(data)))
        head, rest = data[:room], data[room:]
        self._kept += len(head)
        self.overflowed = True
        if self._strategy is OversizedOutputStrategy.STREAM_TO_FILE:
            # The line that crosses the limit goes whole to the spill file, so
            # nothing is cut and a secret across the limit is still masked.
            lines = self._keep(*self._split(self._decoder.decode(head)))
            return lines + self._beyond_cap(rest)
        lines, _ = self._split(self._decoder.decode(head, final=True))
        lines += self._flush_partial(cut_by_cap=True)
        self._keep(lines)
        self._decoder.reset()
        if self._strategy is OversizedOutputStrategy.TRUNCATE_WITH_WARNING:
            self.truncated = True
            warning = (
                f"[output truncated: {self.name} exceeded max_output_size_bytes="
                f"{self._limit}; the rest was read and dropped]"
            )
            self._keep([warning])
            lines.append(warning)
        return lines + self._beyond_cap(rest)

    def finish(self) -> list[str]:
        """Flush the last line, kept even without a trailing newline."""
        if self.overflowed:
            lines = self._spill(self._decoder.decode(b"", final=True), final=True)
        else:
            lines, _ = self._split(self._decoder.decode(b"", final=True))
            lines += self._flush_partial()
            self._keep(lines)
        if self._spill_fd is not None:
            os.close(self._spill_fd)
            self._spill_fd = None
        return lines

    def close(self) -> None:
        """Release the spill file if ``finish`` was never reached."""
        if self._spill_fd is not None:
            os.close(self._spill_fd)
            self._spill_fd = None

    @property
    def lines(self) -> list[str]:
        """The kept lines (built on demand; the result uses ``text``)."""
        return [line for text in self._texts for line in text.split("\n")]

    def text(self) -> str:
        """The kept lines joined with ``\\n``."""
        return "\n".join(self._texts)

    def _keep(self, lines: list[str], text: str | None = None) -> list[str]:
        """Keep ``lines`` for the result (``text``: the same lines already joined)."""
        if lines:
            self._texts.append("\n".join(lines) if text is None else text)
        return lines

    def _beyond_cap(self, data: bytes) -> list[str]:
        if not data:
            return []
        if self._strategy is OversizedOutputStrategy.STREAM_TO_FILE:
            return self._spill(self._decoder.decode(data), final=False)
        self.dropped_bytes += len(data)
        return []

    def _spill(self, text: str, *, final: bool) -> list[str]:
        lines, _ = self._split(text)
        if final:
            lines += self._flush_partial()
        if not lines:
            return lines
        if self._spill_fd is None and not self.spill_error:
            self.spill_path = self._spill_path_factory()
            if self.spill_path is not None:
                try:
                    self._spill_fd = os.open(
                        self.spill_path,
                        os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                        0o600,
                    )
                except OSError as exc:
                    self._spill_failed(exc)
        if self._spill_fd is None:
            self.dropped_bytes += sum(len(line) + 1 for line in lines)
            return lines
        try:
            os.write(self._spill_fd, ("\n".join(lines) + "\n").encode("utf-8", "replace"))
        except OSError as exc:
            os.close(self._spill_fd)
            self._spill_fd = None
            self._spill_failed(exc)
            self.dropped_bytes += sum(len(line) + 1 for line in lines)
        return lines

    def _spill_failed(self, exc: OSError) -> None:
        # A full disk must not fail the execution: the head is in memory and the
        # log and observers still get the lines; the loss is counted and logged.
        self.spill_error = f"spill file {self.spill_path}: {exc.strerror or exc}"
        _log.error("writing the spill file failed; the rest is dropped: %s", self.spill_error)

    def _split(self, text: str) -> tuple[list[str], str | None]:
        """The whole lines ``text`` completes, and the same lines joined (None: not at hand)."""
        if not text:
            return [], None
        buffer = self._partial + text
        end = buffer.rfind("\n")
        if end < 0:
            self._partial = buffer
            return self._split_long_partial(), None
        complete = self._clean + self._redact(buffer[:end])
        self._clean, self._partial = "", buffer[end + 1 :]
        if "\r" in complete:
            # "\r\n" counts as one break: dropping the "\r" of each break in the
            # text drops the one trailing "\r" of each line, as the split needs.
            complete = complete.replace("\r\n", "\n")
            if complete.endswith("\r"):
                complete = complete[:-1]
        lines = complete.split("\n")
        joined: str | None = complete
        # A line can only be too long if the whole text is: the usual read never is.
        if len(complete) > self._max_line and max(map(len, lines)) > self._max_line:
            lines, joined = self._cut_long(lines), None
        pieces = self._split_long_partial()
        if pieces:
            lines, joined = lines + pieces, None
        return lines, joined

    def _cut_long(self, lines: list[str]) -> list[str]:
        # Pieces of exactly max_line characters from the start of the line, as
        # _split_long_partial cuts them: the same line gives the same pieces
        # however the reads happened to split it.
        size = self._max_line
        pieces: list[str] = []
        for line in lines:
            if len(line) <= size:
                pieces.append(line)
            else:
                pieces += [line[i : i + size] for i in range(0, len(line), size)]
        return pieces

    def _split_long_partial(self) -> list[str]:
        # A line with no newline yet is cut into max_line pieces so memory stays
        # bounded. Only the raw text every secret starting in it is whole in
        # gets redacted (never the last `longest` characters, nor a trailing
        # "\r" that may be half of a "\r\n"), and a piece is cut only while
        # characters remain after it, so the pieces equal those of the whole line.
        size = self._max_line
        if len(self._clean) + len(self._partial) <= size + self._redact.longest + 1:
            return []
        raw = self._partial
        safe = len(raw) - self._redact.longest - (1 if raw.endswith("\r") else 0)
        if safe > 0:
            clean, stop = self._redact.prefix(raw, safe)
            self._clean += clean
            self._partial = raw[stop:]
        pieces: list[str] = []
        while len(self._clean) > size:
            pieces.append(self._clean[:size])
            self._clean = self._clean[size:]
        return pieces

    def _flush_partial(self, *, cut_by_cap: bool = False) -> list[str]:
        if not self._clean and not self._partial:
            return []
        line = self._clean + self._redact(self._partial)
        self._clean = self._partial = ""
        if cut_by_cap and self._redact.secrets:
            line = self._mask_cut_secret(line)
        return self._cut_long([line[:-1] if line.endswith("\r") else line])

    def _mask_cut_secret(self, line: str) -> str:
        """Mask a tail of ``line`` that starts a secret: the output cap cut it there.

        Whether the rest of the secret followed depends on how far the reads
        had got, so the tail is masked whenever it could start one: the same
        output keeps the same text however it was read, and no part of a
        secret survives the cut. It is the last line before a truncation, where
        a few masked characters cost nothing.
        """
        for secret in self._redact.secrets:
            for cut in range(len(secret) - 1, 0, -1):
                if line.endswith(secret[:cut]):
                    return line[:-cut] + MASK
        return line
