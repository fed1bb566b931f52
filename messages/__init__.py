"""Every value that crosses a boundary of the execution engine.

Commands, requests, results, configuration, events, actor protocol messages and
errors. All models are frozen pydantic v2 models that round-trip through JSON.
"""

from ._commands import AwsCli, Command, Exec, Script, Shell
from ._config import ExecutionConfig, OversizedOutputStrategy, default_log_dir
from ._events import (
    Cancelled,
    Completed,
    EventBase,
    ExecutionEvent,
    Failed,
    FailureReason,
    Progress,
    Started,
    Stderr,
    Stdout,
)
from ._history import HistoryMetrics
from ._protocol import (
    Cancel,
    GetMetrics,
    GetResult,
    GetStatus,
    ListExecutions,
    RunCleanup,
    Submit,
)
from ._request import ExecutionRequest
from ._results import ConcurrencyMetrics, ExecutionResult, ExecutionStatus, ExecutionSummary
from .errors import (
    DuplicateExecution,
    EngineStopped,
    ExecutionError,
    ExecutionNotFound,
    InvalidRequest,
    QueueFull,
    ResultTimeout,
)

__all__ = [
    "AwsCli",
    "Cancel",
    "Cancelled",
    "Command",
    "Completed",
    "ConcurrencyMetrics",
    "DuplicateExecution",
    "EngineStopped",
    "EventBase",
    "Exec",
    "ExecutionConfig",
    "ExecutionError",
    "ExecutionEvent",
    "ExecutionNotFound",
    "ExecutionRequest",
    "ExecutionResult",
    "ExecutionStatus",
    "ExecutionSummary",
    "Failed",
    "FailureReason",
    "GetMetrics",
    "GetResult",
    "GetStatus",
    "HistoryMetrics",
    "InvalidRequest",
    "ListExecutions",
    "OversizedOutputStrategy",
    "Progress",
    "QueueFull",
    "ResultTimeout",
    "RunCleanup",
    "Script",
    "Shell",
    "Started",
    "Stderr",
    "Stdout",
    "Submit",
    "default_log_dir",
]
