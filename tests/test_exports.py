"""The public names of both packages: exactly what ``__all__`` lists, all documented."""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

import pytest
from blinker import NamedSignal

import actors
import actors.aio
import messages
from actors import signals

MESSAGES_ALL = {
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
}

ACTORS_ALL = {
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
}

AIO_ALL = {"AsyncExecutionEngine", "EventStream"}

API_MESSAGES = {
    "Shell",
    "Exec",
    "Script",
    "AwsCli",
    "Command",
    "ExecutionRequest",
    "ExecutionStatus",
    "ExecutionResult",
    "ExecutionSummary",
    "ConcurrencyMetrics",
    "ExecutionConfig",
    "OversizedOutputStrategy",
    "Started",
    "Stdout",
    "Stderr",
    "Progress",
    "Completed",
    "Failed",
    "Cancelled",
    "ExecutionEvent",
    "Submit",
    "Cancel",
    "GetStatus",
    "GetResult",
    "ListExecutions",
    "GetMetrics",
    "RunCleanup",
    "ExecutionError",
    "ExecutionNotFound",
    "DuplicateExecution",
    "InvalidRequest",
    "QueueFull",
    "ResultTimeout",
    "EngineStopped",
}

API_ERRORS = {
    "ExecutionError",
    "ExecutionNotFound",
    "DuplicateExecution",
    "InvalidRequest",
    "QueueFull",
    "ResultTimeout",
    "EngineStopped",
}

SIGNAL_NAMES = [
    "started",
    "stdout",
    "stderr",
    "progress",
    "completed",
    "failed",
    "cancelled",
    "event",
]

PACKAGES = [messages, actors]


def public_attributes(package: ModuleType) -> set[str]:
    """Public attributes of a package that are not its submodules."""
    return {
        name
        for name, value in vars(package).items()
        if not name.startswith("_")
        and not (isinstance(value, ModuleType) and name not in package.__all__)
    }


def own_docstring(value: object) -> str | None:
    """The docstring written for ``value``, not one inherited from its type."""
    doc = getattr(value, "__doc__", None)
    plain = inspect.isclass(value) or inspect.isroutine(value) or inspect.ismodule(value)
    if not plain and doc is type(value).__doc__:
        return None
    return doc


def exported(package: ModuleType) -> list[tuple[str, str]]:
    return [(package.__name__, name) for name in package.__all__]


def test_messages_all_lists_exactly_the_public_names() -> None:
    assert set(messages.__all__) == MESSAGES_ALL


def test_actors_all_lists_exactly_the_public_names() -> None:
    assert set(actors.__all__) == ACTORS_ALL


def test_actors_aio_all_lists_exactly_its_public_names() -> None:
    assert set(actors.aio.__all__) == AIO_ALL


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_all_has_no_duplicates(package: ModuleType) -> None:
    assert len(package.__all__) == len(set(package.__all__))


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_every_public_attribute_of_a_package_is_in_its_all(package: ModuleType) -> None:
    assert public_attributes(package) == set(package.__all__)


@pytest.mark.parametrize(
    ("package", "name"), exported(messages) + exported(actors) + exported(actors.aio)
)
def test_every_name_in_all_is_importable(package: str, name: str) -> None:
    assert hasattr(importlib.import_module(package), name)


@pytest.mark.parametrize(
    ("package", "name"), exported(messages) + exported(actors) + exported(actors.aio)
)
def test_every_name_in_all_has_a_docstring(package: str, name: str) -> None:
    doc = own_docstring(getattr(importlib.import_module(package), name))
    assert doc, f"{package}.{name} has no docstring of its own"
    assert doc.strip()


@pytest.mark.parametrize("name", sorted(API_MESSAGES))
def test_every_model_and_error_of_the_api_is_exported_from_messages(name: str) -> None:
    assert name in messages.__all__


@pytest.mark.parametrize("name", sorted(API_ERRORS))
def test_every_error_is_exported_from_messages_errors(name: str) -> None:
    from messages import errors

    assert name in errors.__all__
    assert getattr(errors, name) is getattr(messages, name)


@pytest.mark.parametrize("name", ["ExecutionEngine", "signals", "EventHandler"])
def test_the_engine_signals_and_event_handler_are_exported_from_actors(name: str) -> None:
    assert name in actors.__all__


def test_actors_signals_is_the_signals_module() -> None:
    assert actors.signals is importlib.import_module("actors.signals")


@pytest.mark.parametrize("name", SIGNAL_NAMES)
def test_each_event_signal_is_a_named_blinker_signal(name: str) -> None:
    signal = getattr(signals, name)
    assert isinstance(signal, NamedSignal)
    assert signal.name == name
    assert name in signals.__all__


@pytest.mark.parametrize("name", SIGNAL_NAMES)
def test_each_event_signal_is_documented(name: str) -> None:
    assert own_docstring(getattr(signals, name))


def test_every_name_in_signals_all_is_importable() -> None:
    for name in signals.__all__:
        assert hasattr(signals, name), name
