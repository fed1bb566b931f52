"""JSON-RPC error objects: codes, ``data.kind``, and pydantic errors without secrets."""

from __future__ import annotations

import json
from typing import Any

from pydantic import JsonValue, ValidationError

from messages import (
    DuplicateExecution,
    EngineStopped,
    ErrorInfo,
    ExecutionNotFound,
    InvalidRequest,
    QueueFull,
    ResultTimeout,
)

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "RpcFailure",
    "error_object",
    "failure_of",
    "params_failure",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
ENGINE_ERROR = -32000
"""Any other ``ExecutionError``."""

ENGINE_CODES: dict[type[Exception], int] = {
    ExecutionNotFound: -32001,
    DuplicateExecution: -32002,
    QueueFull: -32003,
    EngineStopped: -32004,
    ResultTimeout: -32005,
    InvalidRequest: INVALID_PARAMS,
}


class RpcFailure(Exception):
    """A call that ends in a JSON-RPC error; carries its code and ``ErrorInfo``."""

    def __init__(self, code: int, info: ErrorInfo) -> None:
        super().__init__(info.message)
        self.code = code
        self.info = info


def error_object(code: int, info: ErrorInfo) -> dict[str, Any]:
    """The ``error`` member of a response: code, message, data (``kind`` first)."""
    data: dict[str, Any] = {"kind": info.kind, **(info.data or {})}
    return {"code": code, "message": info.message, "data": data}


def failure_of(exc: Exception) -> RpcFailure:
    """The JSON-RPC error for an exception raised by the engine (or a bug)."""
    if isinstance(exc, InvalidRequest):
        errors: list[JsonValue] = [{"type": "invalid_request", "loc": [exc.field], "msg": str(exc)}]
        info = ErrorInfo(kind="InvalidRequest", message=str(exc), data={"errors": errors})
        return RpcFailure(INVALID_PARAMS, info)
    for kind, code in ENGINE_CODES.items():
        if isinstance(exc, kind):
            return RpcFailure(code, ErrorInfo(kind=type(exc).__name__, message=str(exc)))
    name = type(exc).__name__
    if name.endswith("Error") and type(exc).__module__.startswith("messages"):
        return RpcFailure(ENGINE_ERROR, ErrorInfo(kind=name, message=str(exc)))
    return RpcFailure(INTERNAL_ERROR, ErrorInfo(kind=name, message=f"internal error: {exc}"))


def params_failure(method: str, exc: ValidationError) -> RpcFailure:
    """-32602 with pydantic's error list, inputs stripped, ``env`` values never shown."""
    safe = [_safe(error) for error in json.loads(exc.json(include_url=False, include_input=False))]
    where = "; ".join(f"{_where(e['loc'])}: {e['msg']}" for e in safe)
    errors: list[JsonValue] = list(safe)
    info = ErrorInfo(
        kind="ValidationError",
        message=f"invalid params of {method}: {where}",
        data={"errors": errors},
    )
    return RpcFailure(INVALID_PARAMS, info)


def _safe(error: dict[str, Any]) -> dict[str, Any]:
    """An error of pydantic's list, without any text of an ``env`` value."""
    loc = error.get("loc", [])
    if loc and loc[0] == "env":
        # A value may be a secret, and a validator's message may quote it.
        name = str(loc[1]) if len(loc) > 1 else None
        if loc[-1] == "[key]":  # about the name itself, which is no secret
            msg = f"environment variable name {name!r}: {error.get('msg', 'refused')}"
        elif name:
            msg = f"environment variable {name!r}: value refused (the value is not shown)"
        else:
            msg = "env must be an object of names to string values"
        return {"type": error.get("type", "value_error"), "loc": loc, "msg": msg}
    return error


def _where(loc: list[Any]) -> str:
    return ".".join(map(str, loc)) or "params"
