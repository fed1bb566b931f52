"""A test client of ``python -m actors serve --stdio``: a real child over pipes."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "Sidecar"]

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_S = 30.0


class Sidecar:
    """The sidecar in a child process; a thread collects every line it writes."""

    def __init__(self, *options: str, log_dir: Path | None = None, read: bool = True) -> None:
        logs = ["--log-dir", str(log_dir)] if log_dir is not None else ["--no-log"]
        env = os.environ | {"PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "actors", "serve", "--stdio", *logs, *options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin = self.proc.stdin
        self.lines: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.seen: list[dict[str, Any] | list[Any]] = []
        """Every message read so far, in order."""
        self._ids = itertools.count(1000)
        self._reader: threading.Thread | None = None
        if read:
            self.start_reading()

    def start_reading(self) -> None:
        """Start the thread that reads stdout (a slow-reader test starts it late)."""
        stdout = self.proc.stdout
        assert stdout is not None

        def pump() -> None:
            for line in stdout:
                self.lines.put(line)
            self.lines.put(None)

        self._reader = threading.Thread(target=pump, daemon=True)
        self._reader.start()

    def send(self, data: bytes) -> None:
        """Write raw bytes to the sidecar's stdin."""
        self.stdin.write(data)
        self.stdin.flush()

    def send_json(self, value: Any) -> None:
        """Write one JSON value as one line."""
        self.send(json.dumps(value).encode() + b"\n")

    def request(self, method: str, params: Any = None, **extra: Any) -> int:
        """Send a request; return its id."""
        id_ = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
        if params is not None:
            message["params"] = params
        self.send_json(message | extra)
        return id_

    def next_message(self, timeout: float = DEADLINE_S) -> dict[str, Any] | list[Any]:
        """The next message the sidecar wrote."""
        line = self.lines.get(timeout=timeout)
        assert line is not None, f"the sidecar closed stdout; stderr: {self.stderr_text()}"
        message: dict[str, Any] | list[Any] = json.loads(line)
        self.seen.append(message)
        return message

    def wait_for(
        self, match: Callable[[Any], bool], timeout: float = DEADLINE_S
    ) -> dict[str, Any] | list[Any]:
        """Read messages until one matches (also among those already read)."""
        for message in self.seen:
            if match(message):
                return message
        deadline = time.monotonic() + timeout
        while True:
            message = self.next_message(max(0.01, deadline - time.monotonic()))
            if match(message):
                return message

    def response(self, id_: Any, timeout: float = DEADLINE_S) -> dict[str, Any]:
        """The response with this id."""
        found = self.wait_for(
            lambda m: isinstance(m, dict) and m.get("id") == id_ and "method" not in m, timeout
        )
        assert isinstance(found, dict)
        return found

    def call(self, method: str, params: Any = None) -> Any:
        """Send a request and return its result (failing the test on an error)."""
        answer = self.response(self.request(method, params))
        assert "result" in answer, answer
        return answer["result"]

    def error(self, method: str, params: Any = None) -> dict[str, Any]:
        """Send a request and return its error object."""
        answer = self.response(self.request(method, params))
        assert "error" in answer, answer
        error: dict[str, Any] = answer["error"]
        return error

    def events(self, execution_id: str) -> list[dict[str, Any]]:
        """The events of one execution read so far."""
        return [
            m["params"]
            for m in self.seen
            if isinstance(m, dict)
            and m.get("method") == "execution_event"
            and m["params"]["execution_id"] == execution_id
        ]

    def terminal(self, execution_id: str) -> dict[str, Any]:
        """Wait for the execution's terminal event and return it."""
        found = self.wait_for(
            lambda m: (
                isinstance(m, dict)
                and m.get("method") == "execution_event"
                and m["params"]["execution_id"] == execution_id
                and m["params"]["type"] in ("completed", "failed", "cancelled")
            )
        )
        assert isinstance(found, dict)
        params: dict[str, Any] = found["params"]
        return params

    def stderr_text(self) -> str:
        """What the sidecar wrote on stderr (only once it has exited)."""
        if self.proc.poll() is None or self.proc.stderr is None:
            return "(still running)"
        return self.proc.stderr.read().decode(errors="replace")

    def close(self) -> int:
        """Close stdin and wait for the exit; its exit status."""
        if not self.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.stdin.close()
        try:
            return self.proc.wait(DEADLINE_S)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            if self._reader is not None:
                self._reader.join(DEADLINE_S)
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()
