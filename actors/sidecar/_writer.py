"""The one thread that writes to stdout, and the queue in front of it.

Responses and notifications are serialised by their callers and queued as
lines; the writer thread writes them in order with blocking writes, so a
client that stops reading stalls this thread only. Memory stays bounded
from both sides: the request reader waits (and stops reading stdin) while
the backlog is over ``response_limit``, and the engine's event handler waits
while it is over ``event_limit`` — the engine then merges output into fewer
events (seq kept gapless, lifecycle events never merged), so what a slow
client costs is the engine's merged output, not one line per read.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import deque
from collections.abc import Iterable
from uuid import UUID

__all__ = ["Writer"]

_log = logging.getLogger("actors.sidecar")


class Writer:
    """Queues lines for ``fd`` and writes them on its own thread.

    Args:
        fd: where protocol messages go (stdout).
        redact: literal secrets replaced by ``***`` in every line sent.
        response_limit: backlog bytes above which ``wait_for_room`` blocks.
        event_limit: backlog bytes above which ``event`` blocks.
    """

    def __init__(
        self,
        fd: int,
        *,
        redact: Iterable[str] = (),
        response_limit: int = 32 * 1024 * 1024,
        event_limit: int = 4 * 1024 * 1024,
    ) -> None:
        self._fd = fd
        self._secrets = _secret_forms(redact)
        self._response_limit, self._event_limit = response_limit, event_limit
        self._lines: deque[bytes] = deque()
        self._size = 0
        self._held: dict[UUID, list[bytes]] = {}
        self._closed = False
        self.broken = False
        """True once the reader of ``fd`` is gone; later lines are dropped."""
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="sidecar-writer", daemon=True)
        self._thread.start()

    def put(self, line: str) -> None:
        """Queue one protocol message (a response, or a line that must not wait)."""
        data = self._encode(line)
        with self._cond:
            self._append(data)

    def hold(self, execution_id: UUID) -> None:
        """Keep the events of ``execution_id`` back until ``release``."""
        with self._cond:
            self._held.setdefault(execution_id, [])

    def release(self, execution_ids: Iterable[UUID]) -> None:
        """Queue the events held for these executions (after their responses)."""
        with self._cond:
            for execution_id in execution_ids:
                for data in self._held.pop(execution_id, ()):
                    self._append(data)

    def event(self, execution_id: UUID, line: str) -> None:
        """Queue an execution's notification; blocks while the backlog is full."""
        data = self._encode(line)
        with self._cond:
            held = self._held.get(execution_id)
            if held is not None:
                held.append(data)
                return
            self._cond.wait_for(lambda: self._size < self._event_limit or self._closed)
            self._append(data)

    def wait_for_room(self) -> None:
        """Block while the backlog is over the response limit (the reader's backpressure)."""
        with self._cond:
            self._cond.wait_for(lambda: self._size < self._response_limit or self._closed)

    def stop_waiting(self) -> None:
        """From now on nothing blocks on the backlog (the sidecar is ending)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def close(self, timeout: float) -> bool:
        """Write what is queued, up to ``timeout`` seconds; True if all of it went out."""
        with self._cond:
            self._closed = True
            for execution_id in list(self._held):
                for data in self._held.pop(execution_id):
                    self._append(data)
            self._cond.notify_all()
            flushed = self._cond.wait_for(lambda: not self._lines or self.broken, timeout)
        return flushed and not self.broken

    @property
    def backlog(self) -> int:
        """Bytes queued and not yet written."""
        return self._size

    def _encode(self, line: str) -> bytes:
        for secret, mask in self._secrets:
            line = line.replace(secret, mask)
        return line.encode("utf-8", "replace") + b"\n"

    def _append(self, data: bytes) -> None:
        if self.broken:
            return
        self._lines.append(data)
        self._size += len(data)
        self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._lines))
                batch = list(self._lines)
                self._lines.clear()
            data = b"".join(batch)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
            except OSError as exc:
                _log.warning("stdout is gone (%s); dropping what is left", exc)
                with self._cond:
                    self.broken = True
                    self._size = 0
                    self._lines.clear()
                    self._cond.notify_all()
                return
            with self._cond:
                self._size -= len(data)
                self._cond.notify_all()


def _secret_forms(redact: Iterable[str]) -> list[tuple[str, str]]:
    """Each secret as it appears in JSON text (escaped), longest first."""
    forms = {json.dumps(s, ensure_ascii=False)[1:-1] for s in redact if s}
    return [(form, "***") for form in sorted(forms, key=len, reverse=True)]
