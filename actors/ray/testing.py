"""A throwaway local Ray head for tests and benchmarks: ``LocalRayHead``.

The head runs ``ray start --head --block`` as the leader of a session of its
own, on loopback only, with a short temp dir; ``stop()`` kills every process of
that session and nothing else. Never ``ray stop``: it kills every Ray process
on the machine by name, other people's included.
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
        self._proc: subprocess.Popen[bytes] | None = None

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
        with open(self._dir / "head.log", "wb") as log:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=os.environ | LOOPBACK_ENV,
                start_new_session=True,
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
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
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(_TERM_GRACE_S)
        # Ray's workers are in process groups of their own but stay in the session.
        deadline = time.monotonic() + 10
        while (pids := session_pids(proc.pid)) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
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
