"""A bridge from the helper launcher's pushed facts to today's fd-based ``Child``.

Temporary: the engine's runner still polls fds (``actors._process.Child``).
Until the push/pump seam lands, each helper child gets one pump thread here
that writes its facts into local pipes the runner can poll. Once the engine
takes a pumping ``Child``, ``HelperProcessLauncher`` plugs in directly and this
module goes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

from actors._process import LaunchSpec
from actors.testing import ENGINE_THREAD_PREFIX

from ._helper_launcher import HelperChild, HelperProcessLauncher

__all__ = ["BridgedHelperLauncher"]

# How long ``wait`` waits for the exit fact after the engine killed the group.
_WAIT_TIMEOUT_S = 30.0


class _BridgedChild:
    """An fd-based ``Child`` fed by one pump thread from a ``HelperChild``."""

    def __init__(self, child: HelperChild) -> None:
        self._child = child
        self._out_r, self._out_w = os.pipe()
        self._err_r, self._err_w = os.pipe()
        self._exit_r, self._exit_w = os.pipe()
        self._writers = {"stdout": self._out_w, "stderr": self._err_w}
        self._status: int | None = None
        self._exited = threading.Event()
        self._stop = False
        self._thread = threading.Thread(
            target=self._pump, name=f"{ENGINE_THREAD_PREFIX}bridge-{child.pid}", daemon=True
        )
        self._thread.start()

    # -- the pump thread: facts to pipes ---------------------------------------------------------

    def _pump(self) -> None:
        while not self._stop and (self._writers or not self._exited.is_set()):
            self._child.pump(self, None)
        for stream in list(self._writers):
            self.on_eof(stream)

    def on_output(self, stream: str, data: bytes) -> None:
        fd = self._writers.get(stream)
        if fd is None:
            return
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except OSError:  # the runner closed its end: nobody reads any more
            self.on_eof(stream)

    def on_eof(self, stream: str) -> None:
        fd = self._writers.pop(stream, None)
        if fd is not None:
            os.close(fd)

    def on_exit(self, status: int) -> None:
        self._status = status
        self._exited.set()
        with contextlib.suppress(OSError):
            os.write(self._exit_w, b"x")

    def on_lost(self, message: str) -> None:
        for stream in list(self._writers):
            self.on_eof(stream)
        if not self._exited.is_set():
            self.on_exit(-signal.SIGKILL)

    # -- today's Child protocol ------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self._child.pid

    @property
    def stdout_fd(self) -> int:
        return self._out_r

    @property
    def stderr_fd(self) -> int:
        return self._err_r

    @property
    def stdin_fd(self) -> int | None:
        return None  # the helper writes stdin itself

    @property
    def exit_fd(self) -> int | None:
        return self._exit_r

    def has_exited(self) -> bool:
        return self._exited.is_set()

    def signal_group(self, signum: int) -> None:
        self._child.signal_group(signum)

    def wait(self) -> int:
        if not self._exited.wait(_WAIT_TIMEOUT_S):
            raise TimeoutError(f"no exit of helper child {self.pid} in {_WAIT_TIMEOUT_S}s")
        assert self._status is not None
        return self._status

    def close_stdin(self) -> None:
        pass

    def close(self) -> None:
        self._stop = True
        self._child.close()
        self._child.wake()
        # Close the read ends first: a pump blocked writing to a full pipe gets EPIPE.
        for fd in (self._out_r, self._err_r, self._exit_r):
            os.close(fd)
        self._thread.join(_WAIT_TIMEOUT_S)
        os.close(self._exit_w)


class BridgedHelperLauncher:
    """``HelperProcessLauncher`` behind today's fd-based ``Launcher`` protocol."""

    def __init__(self) -> None:
        self.helper = HelperProcessLauncher()

    def spawn(self, spec: LaunchSpec) -> _BridgedChild:
        """Start the child on the helper and bridge its facts to local pipes."""
        return _BridgedChild(self.helper.spawn(spec))

    def close(self) -> None:
        """End the helper and every child it still runs."""
        self.helper.close()
