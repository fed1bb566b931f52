"""The execution engine's actors, its blinker signals and the ``ExecutionEngine`` facade.

A supervisor actor holds the state table and the concurrency budget; one
worker actor per execution runs its child; a janitor actor evicts old
executions; events reach observers through ``actors.signals`` on one
event-dispatch thread.
"""

from . import signals
from ._dispatch import EventHandler
from ._engine import ExecutionEngine
from ._execution import WorkerActor
from ._history import ExecutionHistory
from ._janitor import JanitorActor
from ._supervisor import SupervisorActor
from .backends import Child, ChildSink, Launcher, LaunchSpec, LocalLauncher, StreamName

__all__ = [
    "Child",
    "ChildSink",
    "EventHandler",
    "ExecutionEngine",
    "ExecutionHistory",
    "JanitorActor",
    "LaunchSpec",
    "Launcher",
    "LocalLauncher",
    "StreamName",
    "SupervisorActor",
    "WorkerActor",
    "signals",
]
