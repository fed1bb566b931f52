"""The engine's configuration and its presets."""

from __future__ import annotations

import os
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import Field, model_validator

from ._base import FrozenModel, NonEmptyText, TextPath

__all__ = ["ExecutionConfig", "OversizedOutputStrategy", "default_log_dir"]

MiB = 1024 * 1024


class OversizedOutputStrategy(StrEnum):
    """What happens when one stream outgrows ``max_output_size_bytes``."""

    TRUNCATE_WITH_WARNING = "truncate_with_warning"
    """Keep the head, end it with one warning line, drain and drop the rest."""
    FAIL_EXECUTION = "fail_execution"
    """Kill the process group; the execution fails with reason ``oversized_output``."""
    STREAM_TO_FILE = "stream_to_file"
    """Keep the head in memory and write the rest to a spill file beside the log."""


def default_log_dir() -> Path:
    """Return the per-user state folder for log files (XDG state home)."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(state) / "cloudops-execution-engine" / "logs"


class ExecutionConfig(FrozenModel):
    """Limits and policies of one engine; validated on construction."""

    max_concurrent_executions: int = Field(8, ge=1)
    """Executions running at once; the rest wait in a FIFO queue."""
    max_queued_executions: int = Field(10_000, ge=0)
    """Executions waiting for a slot; a submit beyond it raises ``QueueFull``."""
    default_timeout_ms: int = Field(300_000, ge=1)
    """Timeout of a request that sets none."""
    max_timeout_ms: int = Field(86_400_000, ge=1)
    """The longest timeout a request may ask for."""
    kill_grace_ms: int = Field(2_000, ge=0)
    """Time between SIGTERM and SIGKILL to an execution's process group."""
    max_output_size_bytes: int = Field(10 * MiB, ge=1)
    """Bytes kept per stream (stdout and stderr each)."""
    oversized_output_strategy: OversizedOutputStrategy = (
        OversizedOutputStrategy.TRUNCATE_WITH_WARNING
    )
    """What happens to a stream beyond ``max_output_size_bytes``."""
    max_line_length: int = Field(MiB, ge=64)
    """Characters after which a line without a newline is split, bounding memory."""
    log_dir: TextPath | None = Field(default_factory=default_log_dir)
    """Folder of the per-execution log files (created 0700); ``None`` disables them."""
    delete_logs_on_evict: bool = False
    """Delete an execution's log and spill files when it is evicted from memory."""
    execution_retention_secs: float = Field(3600.0, gt=0)
    """Terminal executions older than this are evicted."""
    max_in_memory_executions: int = Field(1000, ge=1)
    """Beyond this many executions the oldest terminal ones are evicted."""
    enable_auto_cleanup: bool = True
    """Run the janitor every ``cleanup_interval_secs``."""
    cleanup_interval_secs: float = Field(300.0, gt=0)
    """Seconds between two scheduled cleanups."""
    progress_interval_ms: int = Field(1000, ge=0)
    """Interval of ``Progress`` events of a running execution; 0 disables them."""
    inherit_env: bool = True
    """False gives a child only PATH, HOME, LANG and the request's env."""
    redact: tuple[NonEmptyText, ...] = Field((), repr=False)
    """Secrets replaced by ``***`` in output, logs, spill files, events and descriptions."""
    history_path: TextPath | None = None
    """SQLite file recording every execution across restarts (created 0600); ``None`` = none."""
    history_retention_secs: float = Field(2_592_000.0, gt=0)
    """Terminal executions older than this are pruned from the history file (30 days)."""
    history_max_executions: int = Field(100_000, ge=1)
    """Beyond this many executions in the history file the oldest terminal ones are pruned."""

    @model_validator(mode="after")
    def _default_timeout_within_max(self) -> Self:
        if self.default_timeout_ms > self.max_timeout_ms:
            raise ValueError(
                f"default_timeout_ms ({self.default_timeout_ms}) must not exceed "
                f"max_timeout_ms ({self.max_timeout_ms})"
            )
        return self

    @classmethod
    def production(cls, **overrides: Any) -> ExecutionConfig:
        """Long-running services: the defaults, with logs in the user's state folder."""
        return cls(**overrides)

    @classmethod
    def development(cls, **overrides: Any) -> ExecutionConfig:
        """Interactive work: frequent progress, short retention, quick cleanup."""
        settings: dict[str, Any] = {
            "max_concurrent_executions": 4,
            "default_timeout_ms": 120_000,
            "execution_retention_secs": 900.0,
            "cleanup_interval_secs": 60.0,
            "progress_interval_ms": 500,
        }
        return cls(**(settings | overrides))

    @classmethod
    def testing(cls, **overrides: Any) -> ExecutionConfig:
        """Test suites: short timeouts and intervals, small limits, logs under the temp dir.

        History stays off (``history_path=None``) unless an override sets it.
        """
        settings: dict[str, Any] = {
            "max_concurrent_executions": 4,
            "max_queued_executions": 1_000,
            "default_timeout_ms": 30_000,
            "max_timeout_ms": 600_000,
            "kill_grace_ms": 500,
            "max_output_size_bytes": MiB,
            "log_dir": Path(tempfile.gettempdir()) / "cloudops-execution-engine-tests",
            "execution_retention_secs": 60.0,
            "max_in_memory_executions": 500,
            "cleanup_interval_secs": 1.0,
            "progress_interval_ms": 100,
        }
        return cls(**(settings | overrides))

    @classmethod
    def high_throughput(cls, **overrides: Any) -> ExecutionConfig:
        """Many short commands: wide concurrency, no log files, no progress events."""
        settings: dict[str, Any] = {
            "max_concurrent_executions": 64,
            "max_queued_executions": 100_000,
            "max_output_size_bytes": MiB,
            "log_dir": None,
            "execution_retention_secs": 300.0,
            "max_in_memory_executions": 10_000,
            "cleanup_interval_secs": 30.0,
            "progress_interval_ms": 0,
        }
        return cls(**(settings | overrides))

    @classmethod
    def restricted(cls, **overrides: Any) -> ExecutionConfig:
        """Untrusted commands: no inherited env, short timeouts, fail on oversized output."""
        settings: dict[str, Any] = {
            "max_concurrent_executions": 4,
            "max_queued_executions": 100,
            "default_timeout_ms": 60_000,
            "max_timeout_ms": 600_000,
            "kill_grace_ms": 1_000,
            "max_output_size_bytes": MiB,
            "oversized_output_strategy": OversizedOutputStrategy.FAIL_EXECUTION,
            "inherit_env": False,
        }
        return cls(**(settings | overrides))
