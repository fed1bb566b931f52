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
from ._rpc import (
    CancelReply,
    CleanupReply,
    ExecutionList,
    ExecutionRef,
    ListQuery,
    LogText,
    NoParams,
    ResultQuery,
    StatusReply,
)
from ._wire import BatchRow, BatchSummary, ErrorInfo
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
    "BatchRow",
    "BatchSummary",
    "Cancel",
    "CancelReply",
    "Cancelled",
    "CleanupReply",
    "Command",
    "Completed",
    "ConcurrencyMetrics",
    "DuplicateExecution",
    "EngineStopped",
    "ErrorInfo",
    "EventBase",
    "Exec",
    "ExecutionConfig",
    "ExecutionError",
    "ExecutionEvent",
    "ExecutionList",
    "ExecutionNotFound",
    "ExecutionRef",
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
    "ListQuery",
    "LogText",
    "NoParams",
    "OversizedOutputStrategy",
    "Progress",
    "QueueFull",
    "ResultQuery",
    "ResultTimeout",
    "RunCleanup",
    "Script",
    "Shell",
    "Started",
    "StatusReply",
    "Stderr",
    "Stdout",
    "Submit",
    "default_log_dir",
]
