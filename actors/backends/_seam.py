"""The launcher seam: what every backend gives the engine, local or remote.

A launched child is a source of facts — output chunks per stream, the end of
each stream, the main process's exit status, the loss of the node — and a way
to be signalled as a group. Nothing here assumes a local fd or pid: the local
launcher reads pipes, a remote one reads frames from a connection, and the
engine's runner drives both the same way (``pump`` on its own thread, as
asyncio's ``SubprocessProtocol`` receives ``pipe_data_received`` and
``process_exited``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

__all__ = ["Child", "ChildSink", "LaunchSpec", "Launcher", "StreamName"]


class StreamName(StrEnum):
    """One of a child's two output streams."""

    STDOUT = "stdout"
    STDERR = "stderr"


_MINIMAL_ENV = ("PATH", "HOME", "LANG")


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """Everything needed to start one child, wherever it runs.

    The environment is kept as a rule, not a copy of this process's: a remote
    node applies it to its own environment (``environment(os.environ)`` there).
    """

    argv: tuple[str, ...]
    cwd: Path | None
    stdin: bytes | None
    """Written to the child, then closed; None gives it /dev/null."""
    inherit_env: bool = True
    """True: the node's environment plus ``env_overrides``; False: only PATH, HOME, LANG."""
    env_overrides: dict[str, str] = field(default_factory=dict)
    """Variables set on top (the request's ``env``, ``AWS_PAGER``)."""

    def environment(self, base: Mapping[str, str]) -> dict[str, str] | None:
        """The child's whole environment built on ``base``; None means ``base`` unchanged."""
        if self.inherit_env and not self.env_overrides:
            # Popen passes our own environ straight through, without encoding
            # every variable again (measured: the largest cost of a spawn after fork).
            return None
        if self.inherit_env:
            env = dict(base)
        else:
            env = {name: base[name] for name in _MINIMAL_ENV if name in base}
        env.update(self.env_overrides)
        return env

    @property
    def env(self) -> dict[str, str] | None:
        """The environment on this machine (``environment(os.environ)``)."""
        return self.environment(os.environ)


class ChildSink(Protocol):
    """Where a child delivers its facts; called only from inside ``Child.pump``."""

    def on_output(self, stream: StreamName, data: bytes) -> None:
        """Bytes the child wrote to ``stream``, in order; never empty."""

    def on_eof(self, stream: StreamName) -> None:
        """``stream`` is closed (every writer is gone) or was abandoned; no more output."""

    def on_exit(self, status: int) -> None:
        """The main process exited: its code, or the negative signal number that killed it."""

    def on_lost(self, message: str) -> None:
        """The node or the connection to it is gone; no more facts will come."""


class Child(Protocol):
    """A started child as the runner sees it."""

    @property
    def pid(self) -> int:
        """The main process's id, on the node that runs it."""

    @property
    def node(self) -> str | None:
        """The node that runs it; None for a local child."""

    def pump(self, sink: ChildSink, timeout: float | None) -> None:
        """Wait at most ``timeout`` seconds (None: until something happens) and deliver.

        Returns after delivering at least one fact, when the time is up, or
        soon after ``wake`` was called from another thread.
        """

    def wake(self) -> None:
        """Make a running or the next ``pump`` return soon; any thread, also after ``close``."""

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to the child's whole process group; a gone group is not an error."""

    def abandon(self) -> None:
        """Stop reading the streams (a process outside the group keeps them open)."""

    def close(self) -> None:
        """Kill whatever is left of the group, reap the main process, release everything.

        Idempotent; the runner calls it once the child has exited and both
        streams ended, or when giving up on it.
        """


class Launcher(Protocol):
    """Starts children. A launcher may also have ``close()``, which the engine calls last."""

    def spawn(self, spec: LaunchSpec) -> Child:
        """Start a child in a process group of its own.

        Raises:
            OSError: the child could not be started (no such program, no resources...).
        """
