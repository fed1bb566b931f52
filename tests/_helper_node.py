"""A stand-in for a remote node: starts children for an engine that talks to it over a pipe.

Run as a script (``python -I tests/_helper_node.py``); it imports only the
standard library, as a node without the engine installed would. It reads
frames from stdin and writes frames to stdout; each frame is a JSON header and
a payload of raw bytes (``frame``/``read_frame`` below, shared with the engine
side, ``tests._helper_launcher``).

Requests, engine to node: ``spawn {id, argv, inherit_env, env_overrides, cwd,
stdin}`` (payload: the stdin bytes when ``stdin`` is true; the environment is
built here, on the node's own), ``signal {id, signum}`` (to the child's process
group), ``abandon {id}`` (stop reading its pipes: a process outside the group
holds them; its exit is still reported), ``close {id}`` (the engine is done with
the child: kill its group if it still runs, close its pipes, reap it).

Facts, node to engine: ``spawned {id, pid}``, ``spawn_error {id, errno,
strerror, filename}``, ``output {id, stream}`` (payload: the bytes),
``eof {id, stream}``, ``exit {id, status}`` (negative: killed by that signal).

One thread and one ``selectors`` loop serve the engine's pipe and every
child's pipes, stdin and pidfd, so nothing here races and no blocked read can
keep the node alive. End of stdin kills every child's group, reaps them all
and exits: an engine that dies takes its node's children with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

__all__ = ["frame", "main", "read_frame"]

_HEAD = struct.Struct(">II")  # header length, payload length
_MINIMAL_ENV = ("PATH", "HOME", "LANG")
_READ_SIZE = 64 * 1024


def frame(header: dict[str, Any], payload: bytes = b"") -> bytes:
    """One frame: the lengths, the JSON header, the payload."""
    raw = json.dumps(header, separators=(",", ":")).encode()
    return _HEAD.pack(len(raw), len(payload)) + raw + payload


def read_frame(fd: int) -> tuple[dict[str, Any], bytes] | None:
    """Read one whole frame from ``fd`` (blocking); None at a clean end of the stream.

    Raises:
        EOFError: the stream ended inside a frame.
    """
    head = _read_exactly(fd, _HEAD.size)
    if head is None:
        return None
    header_size, payload_size = _HEAD.unpack(head)
    body = _read_exactly(fd, header_size + payload_size)
    if body is None:
        raise EOFError("the stream ended inside a frame")
    header: dict[str, Any] = json.loads(body[:header_size])
    return header, body[header_size:]


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            if chunks:
                raise EOFError("the stream ended inside a frame")
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@dataclass
class _Child:
    id: int
    proc: subprocess.Popen[bytes]
    pidfd: int
    stdin: memoryview | None
    exited: bool = False
    closed: bool = False
    pipes: set[int] = field(default_factory=set)


class _Node:
    """The node's state: its children, by the engine's id, and the one selector."""

    def __init__(self, engine_in: int, engine_out: int) -> None:
        self._in = engine_in
        self._out = engine_out
        self._selector = selectors.DefaultSelector()
        self._children: dict[int, _Child] = {}

    def send(self, header: dict[str, Any], payload: bytes = b"") -> None:
        _write_all(self._out, frame(header, payload))

    def serve(self) -> None:
        """Serve until the engine's pipe ends; then kill, reap and close everything."""
        self._selector.register(self._in, selectors.EVENT_READ, ("engine", None, ""))
        try:
            while True:
                for key, _mask in self._selector.select():
                    if self._selector.get_map().get(key.fd) is not key:
                        continue  # closed by an earlier key of this same round
                    what, child, stream = key.data
                    if what == "engine":
                        request = read_frame(self._in)
                        if request is None:
                            return
                        self._on_request(*request)
                    elif what == "pipe":
                        self._on_pipe(child, key.fd, stream)
                    elif what == "stdin":
                        self._on_stdin(child, key.fd)
                    else:
                        self._on_exit(child)
        finally:
            for child in list(self._children.values()):
                self._close(child)
            for child in list(self._children.values()):
                child.proc.wait()
                self._forget(child)
            self._selector.close()

    def _on_request(self, header: dict[str, Any], payload: bytes) -> None:
        op, child = header["op"], self._children.get(header["id"])
        if op == "spawn":
            self._spawn(header, payload)
        elif child is None:
            return  # a request about a child already forgotten: nothing to do
        elif op == "signal":
            self._signal(child, header["signum"])
        elif op == "abandon":
            self._drop_pipes(child)
        elif op == "close":
            self._close(child)

    def _spawn(self, header: dict[str, Any], payload: bytes) -> None:
        child_id = header["id"]
        try:
            proc = subprocess.Popen(
                header["argv"],
                stdin=subprocess.PIPE if header["stdin"] else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_environment(header["inherit_env"], header["env_overrides"]),
                cwd=header["cwd"],
                bufsize=0,
                close_fds=True,
                start_new_session=True,
            )
        except OSError as exc:
            self.send(
                {
                    "op": "spawn_error",
                    "id": child_id,
                    "errno": exc.errno,
                    "strerror": exc.strerror,
                    "filename": None if exc.filename is None else str(exc.filename),
                }
            )
            return
        assert proc.stdout is not None and proc.stderr is not None
        child = _Child(child_id, proc, os.pidfd_open(proc.pid), memoryview(payload))
        self._children[child_id] = child
        self.send({"op": "spawned", "id": child_id, "pid": proc.pid})
        for stream, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            child.pipes.add(pipe.fileno())
            self._selector.register(pipe, selectors.EVENT_READ, ("pipe", child, stream))
        self._selector.register(child.pidfd, selectors.EVENT_READ, ("exit", child, ""))
        if proc.stdin is not None:
            os.set_blocking(proc.stdin.fileno(), False)
            self._selector.register(proc.stdin, selectors.EVENT_WRITE, ("stdin", child, ""))

    def _on_pipe(self, child: _Child, fd: int, stream: str) -> None:
        data = os.read(fd, _READ_SIZE)
        if data:
            self.send({"op": "output", "id": child.id, "stream": stream}, data)
            return
        self._selector.unregister(fd)
        child.pipes.discard(fd)
        self.send({"op": "eof", "id": child.id, "stream": stream})

    def _on_stdin(self, child: _Child, fd: int) -> None:
        assert child.stdin is not None
        try:
            child.stdin = child.stdin[os.write(fd, child.stdin) :]
        except BlockingIOError:
            return
        except OSError:  # EPIPE: the child does not read its stdin; that is its right
            child.stdin = memoryview(b"")
        if not child.stdin:
            self._close_stdin(child)

    def _close_stdin(self, child: _Child) -> None:
        stdin = child.proc.stdin
        if stdin is not None and not stdin.closed:
            self._selector.unregister(stdin)
            with contextlib.suppress(OSError):
                stdin.close()

    def _on_exit(self, child: _Child) -> None:
        self._selector.unregister(child.pidfd)
        if child.closed:
            child.proc.wait()
            self._forget(child)
            return
        child.exited = True
        # WNOWAIT: the zombie keeps the group id reserved until the engine's
        # close, so a later signal_group can never reach a recycled pid.
        info = os.waitid(os.P_PID, child.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        assert info is not None
        status = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
        self.send({"op": "exit", "id": child.id, "status": status})

    def _signal(self, child: _Child, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.proc.pid, signum)

    def _close(self, child: _Child) -> None:
        """Kill what is left of the group, drop the pipes; reap now or once it exits."""
        if child.closed:
            return
        child.closed = True
        self._signal(child, signal.SIGKILL)
        self._close_stdin(child)
        self._drop_pipes(child)
        if child.exited:
            child.proc.wait()
            self._forget(child)

    def _drop_pipes(self, child: _Child) -> None:
        """Stop reading the child's pipes and close them (no ``eof`` is sent)."""
        for fd in list(child.pipes):
            self._selector.unregister(fd)
        child.pipes.clear()
        assert child.proc.stdout is not None and child.proc.stderr is not None
        child.proc.stdout.close()
        child.proc.stderr.close()

    def _forget(self, child: _Child) -> None:
        if self._children.pop(child.id, None) is not None:
            os.close(child.pidfd)


def _environment(inherit: bool, overrides: dict[str, str]) -> dict[str, str] | None:
    """The child's environment on this node, by the rule of ``actors.backends.LaunchSpec``."""
    if inherit and not overrides:
        return None
    if inherit:
        env = dict(os.environ)
    else:
        env = {name: os.environ[name] for name in _MINIMAL_ENV if name in os.environ}
    env.update(overrides)
    return env


def main() -> int:
    """Serve the engine on stdin/stdout until stdin ends."""
    # SIGPIPE stays ignored (Python's default): a child that exits without
    # reading its stdin must cost an EPIPE on that pipe, not the node's life.
    try:
        _Node(sys.stdin.fileno(), sys.stdout.fileno()).serve()
    except BrokenPipeError:  # the engine is gone; serve() has killed every child
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
