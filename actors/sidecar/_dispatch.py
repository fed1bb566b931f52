"""From a line of stdin to responses: envelopes, batches, params, errors.

Runs on the reader thread; every method answers in microseconds except a
``get_execution_result`` that waits, which goes to ``Waiters`` so the next
line is read at once. A batch is answered with one array once all of its
calls have answered. The response to ``execute_command`` is queued before
any event of that execution: the writer holds them until then.
"""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ValidationError

from actors import ExecutionEngine
from messages import ErrorInfo, ExecutionRequest, ExecutionResult, NoParams, ResultQuery

from ._deadlines import Deadlines
from ._errors import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcFailure,
    error_object,
    failure_of,
    params_failure,
)
from ._framing import Oversized
from ._methods import METHODS
from ._openrpc import openrpc_document
from ._writer import Writer

__all__ = ["Dispatcher"]

_NO_ID = object()
_REQ, _KIND_REQ = INVALID_REQUEST, "InvalidRequest"
_DEFERRED = object()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _error(id_: Any, failure: RpcFailure) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "error": error_object(failure.code, failure.info)}


def _bad(code: int, kind: str, message: str) -> RpcFailure:
    return RpcFailure(code, ErrorInfo(kind=kind, message=message))


class _Reply:
    """The answers of one line: a single response or a batch's array, queued when complete."""

    def __init__(self, writer: Writer, size: int, batch: bool) -> None:
        self._writer, self._batch = writer, batch
        self._slots: list[dict[str, Any] | None] = [None] * size
        self._left = size
        self._lock = threading.Lock()
        self.executed: list[UUID] = []

    def answer(self, index: int, response: dict[str, Any] | None) -> None:
        with self._lock:
            self._slots[index] = response
            self._left -= 1
            if self._left:
                return
        answers = [slot for slot in self._slots if slot is not None]
        if answers:
            self._writer.put(_dumps(answers if self._batch else answers[0]))
        self._writer.release(self.executed)


class Dispatcher:
    """Answers the lines of stdin; ``on_shutdown`` is called after ``shutdown`` is answered."""

    def __init__(
        self, engine: ExecutionEngine, writer: Writer, on_shutdown: Callable[[], None]
    ) -> None:
        self._engine, self._writer, self._on_shutdown = engine, writer, on_shutdown
        self._deadlines = Deadlines()

    def close(self) -> None:
        """Answer every wait still open (with ``null``) and end the deadline thread."""
        self._deadlines.close()

    def handle(self, line: bytes | Oversized) -> None:
        """Answer one line of stdin."""
        self._writer.wait_for_room()
        if isinstance(line, Oversized):
            message = f"line of {line.size} bytes is over the limit; not read"
            self._parse_error("LineTooLong", message)
            return
        try:
            value = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            self._parse_error("UnicodeDecodeError", f"parse error: not UTF-8 ({exc.reason})")
            return
        except ValueError as exc:
            self._parse_error("JSONDecodeError", f"parse error: {exc}")
            return
        except RecursionError:
            self._parse_error("RecursionError", "parse error: nested too deeply")
            return
        if isinstance(value, list):
            if not value:
                failure = _bad(INVALID_REQUEST, "InvalidRequest", "invalid request: empty batch")
                self._writer.put(_dumps(_error(None, failure)))
                return
            reply = _Reply(self._writer, len(value), batch=True)
            for index, item in enumerate(value):
                self._call(item, reply, index)
        else:
            self._call(value, _Reply(self._writer, 1, batch=False), 0)

    def _parse_error(self, kind: str, message: str) -> None:
        self._writer.put(_dumps(_error(None, _bad(PARSE_ERROR, kind, message))))

    def _call(self, request: Any, reply: _Reply, index: int) -> None:
        try:
            id_ = _envelope_id(request)
        except RpcFailure as failure:  # answered with id null, notification or not
            reply.answer(index, _error(None, failure))
            return
        name = request["method"]
        try:
            payload = self._run(name, request.get("params"), reply, index, id_)
        except RpcFailure as failure:
            reply.answer(index, None if id_ is _NO_ID else _error(id_, failure))
            return
        except Exception as exc:
            reply.answer(index, None if id_ is _NO_ID else _error(id_, failure_of(exc)))
            return
        if payload is not _DEFERRED:
            reply.answer(index, _success(id_, payload))
        if name == "shutdown":
            self._on_shutdown()

    def _run(self, name: str, raw: Any, reply: _Reply, index: int, id_: Any) -> Any:
        """Call the method; its JSON result, or ``_DEFERRED`` when a waiter will answer."""
        if name == "rpc.discover":
            _params(name, NoParams, raw)
            return openrpc_document()
        method = METHODS.get(name)
        if method is None:
            raise _bad(METHOD_NOT_FOUND, "MethodNotFound", f"method not found: {name!r}")
        params = _params(name, method.params, raw)
        if isinstance(params, ResultQuery) and params.wait_ms > 0:
            self._wait(params, reply, index, id_)
            return _DEFERRED
        if isinstance(params, ExecutionRequest):
            # Events of this execution wait in the writer until this answer is queued.
            self._writer.hold(params.id)
            reply.executed.append(params.id)
        result = method.call(self._engine, params)
        return None if result is None else json.loads(result.model_dump_json())

    def _wait(self, params: ResultQuery, reply: _Reply, index: int, id_: Any) -> None:
        """Answer when the result is there or ``wait_ms`` has passed, whichever is first."""
        future = self._engine.result_future(params.execution_id)
        once = threading.Lock()

        def answer(result: ExecutionResult | None) -> None:
            if not once.acquire(blocking=False):
                return
            payload = None if result is None else json.loads(result.model_dump_json())
            reply.answer(index, _success(id_, payload))

        def done(finished: concurrent.futures.Future[ExecutionResult]) -> None:
            if not finished.cancelled():
                answer(finished.result())

        def expired() -> None:
            future.cancel()  # our own future: cancelling it touches no other waiter
            answer(None)

        future.add_done_callback(done)
        if not future.done():
            self._deadlines.at(time.monotonic() + params.wait_ms / 1000, expired)


def _success(id_: Any, payload: Any) -> dict[str, Any] | None:
    return None if id_ is _NO_ID else {"jsonrpc": "2.0", "id": id_, "result": payload}


def _envelope_id(request: Any) -> Any:
    """The request's id (``_NO_ID`` for a notification); ``RpcFailure`` for a bad envelope."""
    if not isinstance(request, dict):
        raise _bad(INVALID_REQUEST, "InvalidRequest", "invalid request: not a JSON object")
    id_ = request.get("id", _NO_ID)
    if id_ is not _NO_ID and (isinstance(id_, bool) or not isinstance(id_, str | int | None)):
        raise _bad(
            INVALID_REQUEST,
            "InvalidRequest",
            "invalid request: id must be a string, an integer or null",
        )
    if request.get("jsonrpc") != "2.0":
        raise _bad(INVALID_REQUEST, "InvalidRequest", 'invalid request: jsonrpc must be "2.0"')
    if not isinstance(request.get("method"), str):
        raise _bad(INVALID_REQUEST, "InvalidRequest", "invalid request: method must be a string")
    extra = set(request) - {"jsonrpc", "method", "params", "id"}
    if extra:
        raise _bad(
            INVALID_REQUEST, "InvalidRequest", f"invalid request: unknown members {sorted(extra)}"
        )
    return id_


def _params(name: str, model: type[BaseModel], raw: Any) -> Any:
    """``raw`` validated as ``model``; -32602 for positional or invalid params."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _bad(
            INVALID_PARAMS,
            "InvalidParams",
            f"invalid params of {name}: must be an object (by name)",
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise params_failure(name, exc) from None
