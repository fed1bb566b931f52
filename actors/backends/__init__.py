"""Backends: how children are started, where they run, and the seam they share.

A ``Launcher`` starts a ``Child``; the engine's runner pumps the child's facts
(output, end of streams, exit, loss of the node) into a ``ChildSink`` and
signals its process group. ``LocalLauncher`` runs children on this machine;
``actors.ray.RayLauncher`` runs them on a Ray cluster.
"""

from ._local import LocalLauncher
from ._seam import Child, ChildSink, Launcher, LaunchSpec, StreamName
from ._spec import build_launch_spec

__all__ = [
    "Child",
    "ChildSink",
    "LaunchSpec",
    "Launcher",
    "LocalLauncher",
    "StreamName",
    "build_launch_spec",
]
