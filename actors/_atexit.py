"""The last resort at interpreter exit: engines an app forgot to shut down are shut down.

Every engine thread is a daemon, so the interpreter reaches ``atexit`` without
waiting for them. There every local process group is SIGKILLed at once (the
local backend's registry), then each live engine kills what it runs elsewhere
without grace and shuts down.
"""

from __future__ import annotations

import atexit
import contextlib
import weakref
from typing import Protocol

from .backends._groups import process_groups

__all__ = ["register_engine"]


class _Stoppable(Protocol):
    def kill_all(self) -> None: ...

    def shutdown(self, timeout: float = ...) -> None: ...


_engines: weakref.WeakSet[_Stoppable] = weakref.WeakSet()
_EXIT_SHUTDOWN_TIMEOUT_S = 2.0


def register_engine(engine: _Stoppable) -> None:
    """Have ``engine`` shut down at interpreter exit if the app did not do it."""
    _engines.add(engine)


@atexit.register
def _at_exit() -> None:
    process_groups.kill_all()
    for engine in list(_engines):
        # The interpreter is going away; there is nobody left to tell of a failure.
        with contextlib.suppress(Exception):
            engine.kill_all()
            engine.shutdown(timeout=_EXIT_SHUTDOWN_TIMEOUT_S)
