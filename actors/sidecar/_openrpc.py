"""The OpenRPC document of the sidecar, its JSON Schemas generated from the models."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from messages import ErrorInfo, ExecutionEvent

from ._errors import ENGINE_CODES
from ._methods import METHODS

__all__ = ["OPENRPC_VERSION", "openrpc_document"]

OPENRPC_VERSION = "1.3.2"
_REF = "#/components/schemas/{model}"


def _version() -> str:
    from importlib import metadata  # noqa: PLC0415

    try:
        return metadata.version("cloudops-execution-engine")
    except metadata.PackageNotFoundError:
        return "0.0.0+unknown"


@cache
def openrpc_document() -> dict[str, Any]:
    """The document ``rpc.discover`` answers and ``execution-engine schema`` prints."""
    models: set[type[BaseModel]] = {ErrorInfo}
    for method in METHODS.values():
        models.add(method.params)
        if method.result is not None:
            models.add(method.result)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, schema = models_json_schema([(m, "serialization") for m in ordered], ref_template=_REF)
    components: dict[str, Any] = dict(schema.get("$defs", {}))
    event_schema = _event_schema(components)
    methods = [_method(name, components) for name in METHODS]
    return {
        "openrpc": OPENRPC_VERSION,
        "info": {
            "title": "execution-engine sidecar (serve --stdio)",
            "version": _version(),
            "description": "JSON-RPC 2.0 over stdio, one JSON object per line. Every event "
            "of every execution is sent as the notification execution_event, whose params "
            "are the ExecutionEvent below; the response to execute_command comes first.",
        },
        "methods": methods,
        "components": {
            "schemas": components,
            "contentDescriptors": {
                "execution_event": {"name": "execution_event", "schema": event_schema}
            },
            "errors": {
                kind.__name__: {"code": code, "message": kind.__name__}
                for kind, code in ENGINE_CODES.items()
            },
        },
    }


def _event_schema(components: dict[str, Any]) -> dict[str, Any]:
    from pydantic import TypeAdapter  # noqa: PLC0415

    schema = TypeAdapter(ExecutionEvent).json_schema(mode="serialization", ref_template=_REF)
    components.update(schema.pop("$defs", {}))
    components["ExecutionEvent"] = schema
    return {"$ref": _REF.format(model="ExecutionEvent")}


def _method(name: str, components: dict[str, Any]) -> dict[str, Any]:
    method = METHODS[name]
    fields = components[method.params.__name__]
    required = set(fields.get("required", ()))
    params = [
        {"name": field, "required": field in required, "schema": schema}
        for field, schema in fields.get("properties", {}).items()
    ]
    if method.result is None:
        result_schema: dict[str, Any] = {"type": "null"}
    else:
        ref = {"$ref": _REF.format(model=method.result.__name__)}
        result_schema = {"oneOf": [ref, {"type": "null"}]} if method.nullable else ref
    return {
        "name": name,
        "summary": method.summary,
        "paramStructure": "by-name",
        "params": params,
        "result": {"name": f"{name}_result", "schema": result_schema},
    }
