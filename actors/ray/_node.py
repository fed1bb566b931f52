"""What runs on a Ray node: one streaming task per child, and a task that signals a group.

``run_child`` is a Ray streaming-generator task that reserves the launcher's
CPUs while it runs. It starts the child in a session of its own, feeds its
stdin, and yields frames (plain tuples, cheap to pickle) in order:

- ``("spawn_error", errno, message)`` and nothing else when ``Popen`` fails;
- ``("started", pid, starttime, node_id, worker_pid)`` first otherwise;
- ``("out", stream_index, bytes)`` chunks, ``("eof", stream_index)`` per stream;
- ``("exit", status)`` when the main process exits (negative for a signal).

When the child has exited and both pipes ended, or when the driver releases
it (``signal_group`` with signal 0), the whole group is killed and the main
process reaped. Until then the main process stays a zombie (``WNOWAIT``), so
its group id cannot be reused and ``signal_group`` never reaches a stranger;
``signal_group`` also checks the process's start time, for a signal that
arrives after the reap.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from actors.backends import LaunchSpec

__all__ = ["Frame", "run_child", "signal_group"]

Frame = tuple[Any, ...]

# Each frame is a Ray object, about 15 ms apiece through a generator here, and a
# writer flushing 8 KiB at a time makes a frame per flush: reading on for up to
# COALESCE_S after the first bytes, up to CHUNK_MAX, cuts a flood's frames to a
# few dozen a second (measured: see README) for 10 ms more latency.
CHUNK_MAX = 1024 * 1024
COALESCE_S = 0.01
# ray.cancel never reached a generator task blocked in poll (measured: still
# running 10 s later), so the driver releases a child through a file the loop
# looks for this often; it matters only while a process that escaped the group
# holds the pipes.
RELEASE_CHECK_MS = 100
READ_SIZE = 64 * 1024


def _starttime(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def _release_path(pid: int, starttime: str | None) -> Path:
    return Path(tempfile.gettempdir()) / f"cee-release-{pid}-{starttime}"


def signal_group(pid: int, starttime: str | None, signum: int) -> None:
    """Send ``signum`` to the group led by ``pid`` if that is still the child we started.

    Signal 0 releases the child instead: its task stops reading, kills the
    group, reaps and ends.
    """
    if starttime is not None and _starttime(pid) != starttime:
        return  # reaped: the pid may belong to a stranger now
    if signum == 0:
        _release_path(pid, starttime).touch()
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _exit_status(pid: int) -> int | None:
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return -signal.SIGKILL
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def _read_burst(fd: int) -> bytes:
    """Up to ``CHUNK_MAX`` bytes written within ``COALESCE_S``; b"" at end of file."""
    parts: list[bytes] = []
    size = 0
    deadline = time.monotonic() + COALESCE_S
    while size < CHUNK_MAX:
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            continue
        except OSError:
            data = b""
        if not data:
            break
        parts.append(data)
        size += len(data)
    return b"".join(parts)


def run_child(spec: LaunchSpec) -> Iterator[Frame]:
    """Run one child on this node and yield its frames (see the module docstring)."""
    import ray  # noqa: PLC0415 - only on the node, inside a task

    node_id = ray.get_runtime_context().get_node_id()
    try:
        proc = subprocess.Popen(
            spec.argv,
            stdin=subprocess.DEVNULL if spec.stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=spec.environment(os.environ),
            cwd=spec.cwd,
            bufsize=0,
            close_fds=True,
            start_new_session=True,
        )
    except OSError as exc:
        yield ("spawn_error", exc.errno or 0, str(exc))
        return
    starttime = _starttime(proc.pid)
    release = _release_path(proc.pid, starttime)
    try:
        yield ("started", proc.pid, starttime, node_id, os.getpid())
        yield from _pump(proc, spec.stdin, release)
    finally:
        with contextlib.suppress(OSError):
            release.unlink()
        # Also when released, or when the driver is gone (GeneratorExit here).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        proc.wait()


def _pump(proc: subprocess.Popen[bytes], stdin: bytes | None, release: Path) -> Iterator[Frame]:
    assert proc.stdout is not None and proc.stderr is not None
    poller = select.poll()
    streams = {proc.stdout.fileno(): 0, proc.stderr.fileno(): 1}
    for fd in streams:
        os.set_blocking(fd, False)
        poller.register(fd, select.POLLIN)
    exit_fd = os.pidfd_open(proc.pid)
    poller.register(exit_fd, select.POLLIN)
    pending = memoryview(stdin) if stdin else None
    stdin_fd = None
    if proc.stdin is not None:
        if pending is None:
            proc.stdin.close()
        else:
            stdin_fd = proc.stdin.fileno()
            os.set_blocking(stdin_fd, False)
            poller.register(stdin_fd, select.POLLOUT)
    exited = False
    try:
        while (streams or not exited) and not release.exists():
            for fd, _ in poller.poll(RELEASE_CHECK_MS):
                if fd in streams:
                    data = _read_burst(fd)
                    if data:
                        yield ("out", streams[fd], data)
                    else:
                        poller.unregister(fd)
                        yield ("eof", streams.pop(fd))
                elif fd == exit_fd:
                    poller.unregister(fd)
                    exited = True
                    status = _exit_status(proc.pid)
                    yield ("exit", status if status is not None else proc.wait())
                elif fd == stdin_fd:
                    assert pending is not None and proc.stdin is not None
                    try:
                        pending = pending[os.write(fd, pending) :]
                    except BlockingIOError:
                        continue
                    except OSError:  # EPIPE: the child does not read its stdin
                        pending = pending[:0]
                    if not pending:
                        poller.unregister(fd)
                        stdin_fd = None
                        proc.stdin.close()
    finally:
        os.close(exit_fd)
