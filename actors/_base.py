"""What every actor of the engine shares."""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from types import TracebackType
from typing import Any

import pykka

__all__ = ["EngineActor", "TellSafeActor"]


class EngineActor(pykka.ThreadingActor):
    """A pykka ``ThreadingActor`` on a daemon thread with a lock-light inbox.

    Daemon threads let an app that forgot ``shutdown()`` exit; the atexit hook
    in ``_exit.py`` then kills the children. The inbox is a ``SimpleQueue``:
    pykka needs only ``put``, ``get`` and ``empty``, and the C queue costs a
    fraction of ``queue.Queue`` on a path every message takes.
    """

    use_daemon_thread = True

    @staticmethod
    def _create_actor_inbox() -> Any:
        return queue.SimpleQueue()


class TellSafeActor(EngineActor):
    """An engine actor that survives what is sent to it with ``tell``.

    An exception on the tell path reaches nobody, and pykka's default stops the
    actor; an actor that owns every execution (the supervisor) logs it to
    ``_log`` and lives on.
    """

    _log = logging.getLogger("actors.supervisor")

    def _handle_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # pykka's hook for an exception on the tell path (a Submit over the
        # queue bound, a Cancel of an unknown id sent with tell).
        self._log.warning(
            "the %s refused a message sent with tell: %s",
            type(self).__name__.removesuffix("Actor").lower(),
            exception_value,
            exc_info=(exception_type, exception_value, traceback),  # type: ignore[arg-type]
        )

    def _guard(self, handler: Callable[[Any], None], message: Any) -> None:
        """Run ``handler(message)`` for a told report; an exception is logged, not raised."""
        try:
            handler(message)
        except Exception:
            self._log.exception("the %s failed to handle %r", type(self).__name__, message)
