"""A second launcher: children run by one helper process over a pipe, as a remote node would.

``HelperProcessLauncher`` starts one long-lived helper (``tests/_helper_node.py``)
and speaks its framed protocol. One reader thread in this process splits the
helper's facts into one inbox per child; a child's ``pump`` waits on its inbox
and hands the facts to a sink. Nothing here touches a child's fds: the engine
sees only pushed facts, which is the seam a cluster backend has to fit.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from actors.backends import ChildSink, LaunchSpec, StreamName
from actors.testing import ENGINE_THREAD_PREFIX

from ._helper_node import frame, read_frame

__all__ = ["HelperChild", "HelperProcessLauncher"]

HELPER_SCRIPT = Path(__file__).with_name("_helper_node.py")
# A spawn answer takes a fork and an exec on the helper's side; far above that
# means the helper is wedged, and the engine deserves an error, not a hang.
_SPAWN_REPLY_TIMEOUT_S = 30.0
# After its stdin closes the helper kills and reaps every child; it gets this
# long before it is killed itself.
_HELPER_EXIT_TIMEOUT_S = 10.0


class _Inbox:
    """The facts of one child, queued by the reader thread, taken by ``pump``."""

    def __init__(self) -> None:
        self.facts: deque[tuple[dict[str, Any], bytes]] = deque()
        self.cond = threading.Condition()
        self.woken = False

    def put(self, header: dict[str, Any], payload: bytes = b"") -> None:
        with self.cond:
            self.facts.append((header, payload))
            self.cond.notify_all()

    def take(
        self, timeout: float | None, limit: int | None = None
    ) -> list[tuple[dict[str, Any], bytes]]:
        """What is queued (up to ``limit``), waiting at most ``timeout`` for the first.

        [] when the time ran out or ``wake`` was called first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while not self.facts and not self.woken:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self.cond.wait(left)
            self.woken = False
            count = len(self.facts) if limit is None else min(limit, len(self.facts))
            return [self.facts.popleft() for _ in range(count)]

    def wake(self) -> None:
        with self.cond:
            self.woken = True
            self.cond.notify_all()


class _Connection:
    """One helper process, the pipe pair to it, and the reader thread that splits its facts."""

    def __init__(self, node: str) -> None:
        self.node = node
        self._lock = threading.Lock()
        self._inboxes: dict[int, _Inbox] = {}
        self.lost: str | None = None
        self._closed = False
        # Its own session: the terminal's Ctrl-C must not kill the node behind
        # the engine's back; the engine ends it by closing its stdin.
        self.helper = subprocess.Popen(
            [sys.executable, "-I", str(HELPER_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            close_fds=True,
            start_new_session=True,
        )
        assert self.helper.stdin is not None and self.helper.stdout is not None
        self._to_helper = self.helper.stdin
        self._from_helper = self.helper.stdout
        self._reader = threading.Thread(
            target=self._read, name=f"{ENGINE_THREAD_PREFIX}helper-reader", daemon=True
        )
        self._reader.start()

    def inbox(self, child_id: int) -> _Inbox:
        """The inbox of ``child_id`` (made on first use; told at once if the node is lost)."""
        with self._lock:
            inbox = self._inboxes.get(child_id)
            if inbox is None:
                inbox = self._inboxes[child_id] = _Inbox()
                if self.lost is not None:
                    inbox.put({"op": "lost", "id": child_id, "message": self.lost})
            return inbox

    def forget(self, child_id: int) -> None:
        """Drop the inbox of a child the engine is done with."""
        with self._lock:
            self._inboxes.pop(child_id, None)

    def send(self, header: dict[str, Any], payload: bytes = b"") -> None:
        """Write one frame to the helper; a gone helper was already reported as lost."""
        data = frame(header, payload)
        with self._lock:
            if self.lost is not None or self._closed:
                return
            try:
                self._to_helper.write(data)
            except OSError as exc:
                self._lose(f"cannot write to helper node {self.node!r}: {exc}")

    def _read(self) -> None:
        fd = self._from_helper.fileno()
        message = f"helper node {self.node!r} closed its pipe"
        try:
            while (fact := read_frame(fd)) is not None:
                header, payload = fact
                with self._lock:
                    inbox = self._inboxes.get(header["id"])
                if inbox is not None:  # else: a fact of a closed child, not wanted
                    inbox.put(header, payload)
        except (OSError, EOFError, ValueError) as exc:
            message = f"lost helper node {self.node!r}: {exc!r}"
        with self._lock:
            self._lose(message)

    def _lose(self, message: str) -> None:
        """Tell every child the node is gone (the lock is held)."""
        if self.lost is None:
            self.lost = message
            for child_id, inbox in self._inboxes.items():
                inbox.put({"op": "lost", "id": child_id, "message": message})

    def kill(self) -> None:
        """Kill the helper and every child's group at once, as a node dying would."""
        children = _children_of(self.helper.pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.helper.pid, signal.SIGKILL)
        for pid in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        # Returns once the loss is seen here, so a spawn after it goes to a new helper.
        self._reader.join(_HELPER_EXIT_TIMEOUT_S)

    def close(self) -> None:
        """End the helper (it kills and reaps every child) and release everything here."""
        with self._lock, contextlib.suppress(OSError):
            self._closed = True
            self._to_helper.close()
        try:
            self.helper.wait(_HELPER_EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.helper.pid, signal.SIGKILL)
            self.helper.wait()
        self._reader.join(_HELPER_EXIT_TIMEOUT_S)
        self._from_helper.close()


def _children_of(pid: int) -> list[int]:
    """The direct children of ``pid`` (from /proc)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read().decode(errors="replace")
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class HelperChild:
    """A child run by the helper: its pid there, its facts here."""

    def __init__(self, connection: _Connection, child_id: int, pid: int) -> None:
        self._connection = connection
        self._id = child_id
        self._inbox = connection.inbox(child_id)
        self._closed = False
        self.pid = pid
        """The main process's id on the node."""
        self.node: str | None = connection.node

    def pump(self, sink: ChildSink, timeout: float | None) -> None:
        """Deliver the facts that arrive within ``timeout`` seconds; return early on ``wake``."""
        for header, payload in self._inbox.take(timeout):
            match header["op"]:
                case "output":
                    sink.on_output(StreamName(header["stream"]), payload)
                case "eof":
                    sink.on_eof(StreamName(header["stream"]))
                case "exit":
                    sink.on_exit(header["status"])
                case "lost":
                    sink.on_lost(header["message"])

    def wake(self) -> None:
        """Make a ``pump`` blocked in another thread return now."""
        self._inbox.wake()

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to the child's process group on the node."""
        if not self._closed:
            self._connection.send({"op": "signal", "id": self._id, "signum": signum})

    def abandon(self) -> None:
        """Stop reading the streams on the node; the exit is still reported."""
        if not self._closed:
            self._connection.send({"op": "abandon", "id": self._id})

    def close(self) -> None:
        """Release the child on the node (kill what is left, reap) and here."""
        if not self._closed:
            self._closed = True
            self._connection.send({"op": "close", "id": self._id})
            self._connection.forget(self._id)


class HelperProcessLauncher:
    """Starts children in one helper process, talking to it over a pipe pair.

    A lost helper (it died, or its pipe broke) is replaced by a new one at the
    next spawn, as a cluster backend would reach another node.

    Args:
        node: the name children report as their node.
    """

    def __init__(self, node: str = "helper") -> None:
        self.node = node
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._retired: list[_Connection] = []
        self._connection = _Connection(node)

    @property
    def helper_pid(self) -> int:
        """The current helper process's id."""
        return self._connection.helper.pid

    def spawn(self, spec: LaunchSpec) -> HelperChild:
        """Start a child on the helper; ``OSError`` as the helper's ``Popen`` raised it."""
        with self._lock:
            if self._connection.lost is not None:
                self._retired.append(self._connection)
                self._connection = _Connection(self.node)
            connection = self._connection
        child_id = next(self._ids)
        inbox = connection.inbox(child_id)
        header = {
            "op": "spawn",
            "id": child_id,
            "argv": list(spec.argv),
            "inherit_env": spec.inherit_env,
            "env_overrides": spec.env_overrides,
            "cwd": None if spec.cwd is None else str(spec.cwd),
            "stdin": spec.stdin is not None,
        }
        connection.send(header, spec.stdin or b"")
        reply = inbox.take(_SPAWN_REPLY_TIMEOUT_S, limit=1)
        if not reply or reply[0][0]["op"] not in ("spawned", "spawn_error"):
            connection.forget(child_id)
            raise OSError(errno.EIO, f"helper node {self.node!r} did not answer a spawn")
        answer = reply[0][0]
        if answer["op"] == "spawn_error":
            connection.forget(child_id)
            raise OSError(answer["errno"], answer["strerror"], answer["filename"])
        return HelperChild(connection, child_id, answer["pid"])

    def kill_node(self) -> None:
        """Kill the helper and all its children at once: a node dying, for tests."""
        self._connection.kill()

    def close(self) -> None:
        """End every helper (each kills and reaps its children); release everything here."""
        with self._lock:
            connections, self._retired = [*self._retired, self._connection], []
        for connection in connections:
            connection.close()
