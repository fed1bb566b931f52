"""What every actor of the engine shares."""

from __future__ import annotations

import queue
from typing import Any

import pykka

__all__ = ["EngineActor"]


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
