"""The local backend: children of this process, in process groups of their own.

``pump`` multiplexes both pipes, the child's exit (a pidfd), its stdin and a
wake-up eventfd with one ``poll``, on the runner's thread, so it can always be
told to stop — even when a grandchild that escaped the group holds a pipe open.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import subprocess
import threading

from ._groups import process_groups
from ._seam import Child, ChildSink, LaunchSpec, StreamName

__all__ = ["LocalLauncher"]

# Reads start small and double while they come back full. A 64 KiB read whose
# bytes are mostly unused leaves a hole in the heap next to the output that is
# kept: with 10 KB results that cost 8 KB of RSS per retained execution
# (measured), while a flood still reaches 64 KiB reads after two full ones.
FIRST_READ_SIZE = 16 * 1024
READ_SIZE = 64 * 1024
# Without a pidfd (Linux < 5.3) pump checks for the exit this often.
EXIT_POLL_S = 0.05


def _wake_fds() -> tuple[int, int]:
    if hasattr(os, "eventfd"):
        fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        return fd, fd
    return os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)


class LocalLauncher:
    """Runs children on this machine with ``subprocess.Popen``."""

    def spawn(self, spec: LaunchSpec) -> Child:
        """Start the child; never ``preexec_fn``, which forces the slow fork path."""
        proc = subprocess.Popen(
            spec.argv,
            stdin=subprocess.DEVNULL if spec.stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=spec.env,
            cwd=spec.cwd,
            bufsize=0,
            close_fds=True,
            start_new_session=True,
        )
        process_groups.add(proc.pid)
        try:
            return _LocalChild(proc, spec.stdin)
        except BaseException:
            _kill_and_reap(proc)
            raise

    def close(self) -> None:
        """Nothing to release: every child is closed by its runner."""


def _kill_and_reap(proc: subprocess.Popen[bytes]) -> int:
    # The group id is the main pid (start_new_session). While the main process
    # is unreaped its pid cannot be reused, so this kill never hits a stranger;
    # the registry entry goes away under the same lock as the reap.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, 9)
    with process_groups.lock:
        process_groups.discard(proc.pid)
        return proc.wait()


class _LocalChild:
    """A ``subprocess.Popen`` child in its own session, with a pidfd when available."""

    def __init__(self, proc: subprocess.Popen[bytes], stdin: bytes | None) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self._proc = proc
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = _wake_fds()
        self._poller = select.poll()
        self._streams: dict[int, tuple[StreamName, int]] = {
            proc.stdout.fileno(): (StreamName.STDOUT, FIRST_READ_SIZE),
            proc.stderr.fileno(): (StreamName.STDERR, FIRST_READ_SIZE),
        }
        for fd in self._streams:
            self._poller.register(fd, select.POLLIN)
        self._poller.register(self._wake_r, select.POLLIN)
        self._exit_fd: int | None = None
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):  # kernels before 5.3: poll for the exit
                self._exit_fd = os.pidfd_open(proc.pid)
                self._poller.register(self._exit_fd, select.POLLIN)
        self._exited = False
        self._stdin = memoryview(stdin) if stdin else None
        self._stdin_fd: int | None = None
        if proc.stdin is not None:
            if self._stdin is None:
                self._close_stdin()
            else:
                self._stdin_fd = proc.stdin.fileno()
                os.set_blocking(self._stdin_fd, False)
                self._poller.register(self._stdin_fd, select.POLLOUT)
        self._closed = False

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def node(self) -> str | None:
        return None

    def pump(self, sink: ChildSink, timeout: float | None) -> None:
        if self._exit_fd is None and not self._exited:
            timeout = EXIT_POLL_S if timeout is None else min(timeout, EXIT_POLL_S)
        wait_ms = (
            None if timeout is None or timeout == math.inf else max(0, math.ceil(timeout * 1000))
        )
        for fd, _event in self._poller.poll(wait_ms):
            self._on_ready(fd, sink)
        if self._exit_fd is None and not self._exited:
            status = self._exit_status()
            if status is not None:
                self._exited = True
                sink.on_exit(status)

    def wake(self) -> None:
        with self._lock:
            if self._wake_w < 0:  # closed: nothing to wake
                return
            # Under the lock: close() closes the fds under it, so this never
            # writes to a closed (or reused) fd number. A full counter already
            # means "wake up".
            with contextlib.suppress(BlockingIOError):
                if self._wake_r == self._wake_w:
                    os.eventfd_write(self._wake_w, 1)
                else:
                    os.write(self._wake_w, b"\0")

    def signal_group(self, signum: int) -> None:
        if self._closed:
            return
        # A member that changed uid refuses; the rest were still signalled.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signum)

    def abandon(self) -> None:
        for fd in list(self._streams):
            self._poller.unregister(fd)
        self._streams.clear()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_stdin()
        _kill_and_reap(self._proc)
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._proc.stdout.close()
        self._proc.stderr.close()
        with self._lock:
            if self._exit_fd is not None:
                os.close(self._exit_fd)
                self._exit_fd = None
            os.close(self._wake_r)
            if self._wake_w != self._wake_r:
                os.close(self._wake_w)
            self._wake_r = self._wake_w = -1

    def _on_ready(self, fd: int, sink: ChildSink) -> None:
        stream = self._streams.get(fd)
        if stream is not None:
            self._read(fd, stream, sink)
        elif fd == self._wake_r:
            self._drain_wake()
        elif fd == self._exit_fd:
            self._poller.unregister(fd)
            status = self._exit_status()
            self._exited = True
            sink.on_exit(status if status is not None else self._proc.wait())
        elif fd == self._stdin_fd and self._feed_stdin(fd):
            self._close_stdin()

    def _read(self, fd: int, stream: tuple[StreamName, int], sink: ChildSink) -> None:
        name, size = stream
        try:
            data = os.read(fd, size)
        except OSError:
            data = b""
        if not data:
            self._poller.unregister(fd)
            del self._streams[fd]
            sink.on_eof(name)
            return
        if len(data) == size and size < READ_SIZE:
            self._streams[fd] = (name, size * 2)
        sink.on_output(name, data)

    def _exit_status(self) -> int | None:
        # WNOWAIT leaves the zombie in place: the group id stays reserved until
        # close() kills the group and reaps, so no kill can reach a recycled pid.
        try:
            info = os.waitid(os.P_PID, self._proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self._proc.returncode if self._proc.returncode is not None else -9
        if info is None:
            return None
        if info.si_code == os.CLD_EXITED:
            return info.si_status
        return -info.si_status

    def _feed_stdin(self, fd: int) -> bool:
        """Write what the pipe takes now; True when stdin is done (or the child closed it)."""
        assert self._stdin is not None
        try:
            written = os.write(fd, self._stdin)
        except BlockingIOError:
            return False
        except OSError:  # EPIPE: the child does not read its stdin; that is its right
            return True
        self._stdin = self._stdin[written:]
        return not self._stdin

    def _close_stdin(self) -> None:
        if self._stdin_fd is not None:
            with contextlib.suppress(KeyError):
                self._poller.unregister(self._stdin_fd)
            self._stdin_fd = None
        stdin = self._proc.stdin
        if stdin is not None and not stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                stdin.close()

    def _drain_wake(self) -> None:
        try:
            if self._wake_r == self._wake_w:
                os.eventfd_read(self._wake_r)
            else:
                os.read(self._wake_r, 512)
        except BlockingIOError:
            pass
