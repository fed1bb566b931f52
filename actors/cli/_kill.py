"""The one place the CLI and the sidecar kill every process group at once."""

from __future__ import annotations

from actors import ExecutionEngine

__all__ = ["kill_all"]


def kill_all(engine: ExecutionEngine) -> None:
    """SIGKILL every running execution's process group of ``engine`` now; any thread."""
    # TODO(kill_all): ExecutionEngine.kill_all() is coming on main; until it is
    # merged, fall back to the exit hook. Remove the fallback after `git merge main`.
    method = getattr(engine, "kill_all", None)
    if callable(method):
        method()
        return
    from actors._exit import process_groups  # noqa: PLC0415  (TODO(kill_all): remove)

    process_groups.kill_all()
