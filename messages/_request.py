"""What an app asks the engine to run."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4

from pydantic import Field, PositiveInt, StringConstraints

from ._base import FrozenModel, Text, TextPath
from ._commands import Command

__all__ = ["ExecutionRequest"]


EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class ExecutionRequest(FrozenModel):
    """One command to run, with its limits and environment.

    Construction validates everything that does not depend on the engine or the
    filesystem; ``ExecutionEngine.execute`` checks the rest before queueing.
    """

    id: UUID = Field(default_factory=uuid4)
    """The execution id; pick your own to correlate, or let one be generated."""
    command: Command
    """What to run."""
    timeout_ms: PositiveInt | None = None
    """Wall-clock limit from start; ``None`` takes the config's default."""
    env: dict[EnvName, Text] = Field(default_factory=dict, repr=False)
    """Variables added to (or, without ``inherit_env``, given as) the child's environment."""
    working_dir: TextPath | None = None
    """The child's working directory; ``None`` keeps the engine's."""
    stdin: Text | None = None
    """Text written to the child's stdin, which is then closed; ``None`` gives /dev/null."""
    idle_timeout_ms: PositiveInt | None = None
    """End the execution as timed out when neither stream produced a byte for this long."""
    labels: dict[Text, Text] = Field(default_factory=dict)
    """Free-form tags, carried into summaries."""
