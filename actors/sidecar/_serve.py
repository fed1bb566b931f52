"""``serve --stdio``: one engine, a reader thread on stdin, a writer thread on stdout.

The main thread only waits: for ``shutdown``, end of stdin, SIGINT, SIGTERM
or SIGHUP (the signal handler notes it and wakes the main thread through the
wake-up fd; it never raises). Then it shuts the engine down, which cancels
everything and kills every process group, flushes what it can and returns.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Protocol

from actors.backends import Launcher
from actors.cli._args import EXIT_USAGE, close_launcher
from actors.cli._history import engine_for_cli
from actors.cli._interrupts import Interrupts
from messages import ExecutionConfig, ExecutionEvent

from ._dispatch import Dispatcher
from ._framing import read_lines
from ._openrpc import openrpc_document
from ._writer import Writer

__all__ = ["TextOut", "serve_stdio", "write_schema"]

_log = logging.getLogger("actors.sidecar")
_FLUSH_TIMEOUT_S = 2.0
"""How long the last answers and events may take to go out to a client that reads slowly."""


_NOTIFICATION_HEAD = '{"jsonrpc":"2.0","method":"execution_event","params":'


class _Events:
    """The engine's event handler: every event becomes an ``execution_event`` notification."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    def on_event(self, event: ExecutionEvent) -> None:
        line = _NOTIFICATION_HEAD + event.model_dump_json() + "}"
        self._writer.event(event.execution_id, line)


def serve_stdio(config: ExecutionConfig, *, launcher: Launcher | None = None) -> int:
    """Serve an engine built from ``config`` on stdin/stdout until told to stop.

    Args:
        config: the engine's config.
        launcher: where children run (``RayLauncher`` for ``--ray``); None: here.

    Returns:
        0 after ``shutdown`` or end of stdin; 128 + N after signal N; 2 when the
        log dir cannot be created.
    """
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s: %(message)s")
    sys.stdout.flush()
    # Protocol messages get a private copy of stdout; fd 1 then points at
    # stderr, so a stray print() can never corrupt the protocol stream.
    protocol_fd = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    writer = Writer(protocol_fd, redact=config.redact)
    ended = threading.Event()
    with Interrupts() as interrupts:

        def end() -> None:
            ended.set()
            interrupts.wake()

        try:
            engine = engine_for_cli(
                config, _log.warning, event_handler=_Events(writer), launcher=launcher
            )
        except OSError as exc:
            close_launcher(launcher)
            _log.error("cannot create log dir %s: %s", config.log_dir, exc.strerror)
            return EXIT_USAGE
        interrupts.on_second = engine.kill_all
        dispatcher = Dispatcher(engine, writer, on_shutdown=end)
        reader = threading.Thread(
            target=_read,
            args=(sys.stdin.fileno(), dispatcher, ended, end),
            daemon=True,
            name="sidecar-reader",
        )
        reader.start()
        interrupts.wait_until(ended.is_set)
        signum = interrupts.signum
        if signum is not None:
            _log.warning("signal %d: cancelling every execution and killing its processes", signum)
        writer.stop_waiting()
        engine.shutdown()
        dispatcher.close()
    if not writer.close(_FLUSH_TIMEOUT_S):
        _log.warning("stdout: not everything could be written before exit")
    return 0 if signum is None else 128 + signum


def _read(fd: int, dispatcher: Dispatcher, ended: threading.Event, end: Callable[[], None]) -> None:
    try:
        for line in read_lines(fd):
            if ended.is_set():
                return
            try:
                dispatcher.handle(line)
            except Exception:  # a bug in one line's handling must not end the session
                _log.exception("a request line could not be handled")
    finally:
        end()


class TextOut(Protocol):
    """Where ``write_schema`` writes: anything with ``write(str)``."""

    def write(self, text: str, /) -> object:
        """Write ``text``."""


def write_schema(out: TextOut) -> int:
    """Write the OpenRPC document (what ``rpc.discover`` answers) to ``out``; return 0."""
    out.write(json.dumps(openrpc_document(), indent=2, ensure_ascii=False) + "\n")
    return 0
