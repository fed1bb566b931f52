"""blinker signals, one per kind of event, plus ``event`` for all of them.

Receivers are called as ``receiver(engine, event=<the event model>)`` on the
engine's event-dispatch thread, in order per execution. Connect to one engine
with ``signals.stdout.connect(fn, sender=engine)``. blinker holds receivers
weakly by default: pass ``weak=False`` for a lambda or a closure, or it is
dropped at once.
"""

from __future__ import annotations

from blinker import Namespace, Signal

__all__ = [
    "SIGNALS_BY_TYPE",
    "cancelled",
    "completed",
    "event",
    "failed",
    "progress",
    "started",
    "stderr",
    "stdout",
]

_signals = Namespace()

started: Signal = _signals.signal("started", doc="The main process of an execution was spawned.")
stdout: Signal = _signals.signal("stdout", doc="Lines an execution wrote to stdout.")
stderr: Signal = _signals.signal("stderr", doc="Lines an execution wrote to stderr.")
progress: Signal = _signals.signal("progress", doc="Heartbeat of a running execution.")
completed: Signal = _signals.signal("completed", doc="An execution exited with code 0.")
failed: Signal = _signals.signal("failed", doc="An execution failed or timed out.")
cancelled: Signal = _signals.signal("cancelled", doc="An execution was cancelled.")
event: Signal = _signals.signal("event", doc="Every event of every execution.")

SIGNALS_BY_TYPE: dict[str, Signal] = {
    "started": started,
    "stdout": stdout,
    "stderr": stderr,
    "progress": progress,
    "completed": completed,
    "failed": failed,
    "cancelled": cancelled,
}
"""The signal for each event ``type``."""
