"""Run the engine's executions on a Ray cluster (the ``ray`` extra).

``RayLauncher`` is a launcher like the local one: pass it to
``ExecutionEngine(config, launcher=RayLauncher(address))``. ``actors.ray.testing``
starts a throwaway local head for tests.
"""

from ._launcher import RayLauncher

__all__ = ["RayLauncher"]
