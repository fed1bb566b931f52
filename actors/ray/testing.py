"""A throwaway local Ray head for tests and benchmarks: ``LocalRayHead``.

The head runs ``ray start --head --block`` in a session of its own, on
loopback only, with a short temp dir; ``stop()`` kills every process of that
session and nothing else. The head is detached (its parent exits at once), so,
as a real cluster, none of its processes is a descendant of the driver. Never
``ray stop``: it kills every Ray process on the machine by name, other
people's included.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["LOOPBACK_ENV", "LocalRayHead", "session_pids"]

LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
"""Without the first, Ray swaps 127.0.0.1 for the machine's address, in the head
and in every driver that connects to it (a driver then waits for ever)."""

# A loaded 2-core machine took 5-40 s to bring a head up (measured).
_START_TIMEOUT_S = 120.0
# `ray start` shuts its children down gracefully on SIGTERM; past this we kill.
_TERM_GRACE_S = 3.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def session_pids(sid: int) -> list[int]:
    """The pids of every live process whose session id is ``sid`` (Linux ``/proc``)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces): state ppid pgrp session.
        fields = stat.rpartition(")")[2].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


class LocalRayHead:
    """A Ray head on 127.0.0.1 in its own session; use as a context manager.

    Args:
        num_cpus: The CPUs the head offers to tasks.
    """

    def __init__(self, num_cpus: int = 2) -> None:
        self.num_cpus = num_cpus
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        """What ``ray.init`` and ``RayLauncher`` take to join this head."""
        self._dir = Path(tempfile.mkdtemp(prefix="rh", dir="/tmp"))
        self._sid: int | None = None
        self.env = (
            os.environ
            | LOOPBACK_ENV
            | {
                # Keep idle workers: a driver's connections to workers that come and
                # go would look like leaked fds to a test's leak check.
                "RAY_idle_worker_killing_time_threshold_ms": str(24 * 3600 * 1000),
                "RAY_num_workers_soft_limit": "64",
            }
        )

    def start(self) -> None:
        """Start the head and wait until its GCS port accepts connections."""
        os.environ.update(LOOPBACK_ENV)
        if "ray" in sys.modules:
            from ray._private import ray_constants  # noqa: PLC0415 - read once at import

            if ray_constants.ENABLE_RAY_CLUSTER:
                raise RuntimeError(
                    "ray was imported before RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 was set: "
                    "this driver would wait for ever on the machine's address"
                )
        ray = str(Path(sys.executable).with_name("ray"))
        argv = [
            ray,
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={self.port}",
            f"--num-cpus={self.num_cpus}",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={self._dir / 'r'}",
        ]
        # A shell leads the new session, starts the head in the background and
        # exits: the head is adopted by init and the session id is the shell's pid.
        detach = 'exec "$@" </dev/null >"$LOG" 2>&1 &'
        with subprocess.Popen(
            ["/bin/sh", "-c", detach, "sh", *argv],
            env=self.env | {"LOG": str(self._dir / "head.log")},
            start_new_session=True,
        ) as shell:
            self._sid = shell.pid
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not session_pids(self._sid):
                raise RuntimeError(f"ray start exited: {self.log_text()[-2000:]}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the Ray head did not listen on {self.address} within the timeout")

    def log_text(self) -> str:
        """What ``ray start`` printed so far."""
        return (self._dir / "head.log").read_text(errors="replace")

    def stop(self) -> None:
        """Kill every process of the head's session, wait for them, remove the temp dir."""
        sid, self._sid = self._sid, None
        if sid is None:
            return
        # SIGTERM makes `ray start --block` stop its children, which took longer
        # than this grace on a loaded machine; whatever is left is killed. Ray's
        # workers are in process groups of their own but stay in the session.
        for pid in session_pids(sid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + _TERM_GRACE_S
        while session_pids(sid) and time.monotonic() < deadline:
            time.sleep(0.05)
        deadline = time.monotonic() + 10
        while (pids := session_pids(sid)) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
