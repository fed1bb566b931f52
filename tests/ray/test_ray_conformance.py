"""The launcher conformance suite, run with RayLauncher against the session's local head."""

from __future__ import annotations

import contextlib
import os
import signal

import pytest

from actors.ray import RayLauncher
from actors.ray.testing import LocalRayHead
from actors.testing import LeakCheck
from tests.conformance import ConformanceSuite, LauncherFactory

# Each running execution reserves this much of the head's 2 CPUs: the suite runs
# up to 20 at once.
NUM_CPUS = 0.1


class KillableRayLauncher(RayLauncher):
    """A RayLauncher whose ``kill_node`` SIGKILLs the Ray workers running its children.

    One local head cannot lose its only node and serve the next test; a killed
    worker takes the same path in Ray (the task's generator fails) and in the engine.
    """

    def kill_node(self) -> None:
        """Kill every Ray worker process that runs one of this launcher's children."""
        with self._lock:
            workers = {child.worker_pid for child in self._children}
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class RayLeakCheck(LeakCheck):
    """The suite's leak check, blind to sockets: Ray's driver opens gRPC channels
    to workers and nodes lazily, process-wide, as tasks land on them; the engine
    and the launcher open none (threads, pipes and processes are still checked)."""

    def leaks(self) -> list[str]:
        """What ``LeakCheck.leaks`` finds, without new sockets."""
        return [leak for leak in super().leaks() if "-> socket:[" not in leak]


@pytest.fixture(autouse=True)
def _ray_leak_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conformance import _support

    monkeypatch.setattr(_support, "LeakCheck", RayLeakCheck)


@pytest.fixture
def launcher_factory(ray_head: LocalRayHead) -> LauncherFactory:
    """New launchers on the session's head (they share the session's connection)."""
    return lambda: KillableRayLauncher(ray_head.address, num_cpus=NUM_CPUS)


class TestRayLauncherConformance(ConformanceSuite):
    """Every behaviour of an execution, with children on the local Ray head."""
