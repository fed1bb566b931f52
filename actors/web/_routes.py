"""The REST and SSE routes; every engine call goes through the public facade."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from actors import ExecutionEngine
from messages import (
    ConcurrencyMetrics,
    ExecutionNotFound,
    ExecutionRequest,
    ExecutionResult,
    ExecutionStatus,
    ExecutionSummary,
)

from ._hub import EventHub, HubFull
from ._security import Redactor

__all__ = ["MAX_WAIT_SECONDS", "api_router"]

MAX_WAIT_SECONDS = 300.0
_EVENT_TYPES = frozenset(
    {"started", "stdout", "stderr", "progress", "completed", "failed", "cancelled"}
)


class Submitted(BaseModel):
    """The answer to a submission."""

    execution_id: UUID


class Pending(BaseModel):
    """The answer for a result that is not there yet."""

    status: ExecutionStatus


class CancelAnswer(BaseModel):
    """Whether a cancel found the execution pending or running."""

    cancelled: bool


class ErrorBody(BaseModel):
    """Every error answer: what was wrong, and for 422 pydantic's errors without their input."""

    detail: str | list[dict[str, Any]]


def _json(redactor: Redactor, payload: str, status: int = 200) -> Response:
    return Response(redactor.json(payload), status_code=status, media_type="application/json")


def api_router(engine: ExecutionEngine, hub: EventHub, redactor: Redactor) -> APIRouter:
    """The ``/api`` routes over ``engine``, with SSE from ``hub``."""
    router = APIRouter(
        prefix="/api", responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}}
    )

    @router.post(
        "/executions",
        status_code=202,
        response_model=Submitted,
        responses={409: {"model": ErrorBody}, 413: {"model": ErrorBody}, 503: {"model": ErrorBody}},
    )
    def submit(request: ExecutionRequest) -> Response:
        """Queue an execution; answers at once with its id."""
        execution_id = engine.execute(request)
        return _json(redactor, Submitted(execution_id=execution_id).model_dump_json(), 202)

    @router.get("/executions", response_model=list[ExecutionSummary])
    def list_executions(status: ExecutionStatus | None = None) -> Response:
        """Summaries of the executions in memory, newest first."""
        rows = engine.list_executions(status)
        return _json(redactor, "[" + ",".join(r.model_dump_json() for r in rows) + "]")

    @router.get(
        "/executions/{execution_id}",
        response_model=ExecutionSummary,
        responses={404: {"model": ErrorBody}},
    )
    def get_execution(execution_id: UUID) -> Response:
        """One execution's summary."""
        engine.get_status(execution_id)  # ExecutionNotFound, also from history
        for row in engine.list_executions():
            if row.execution_id == execution_id:
                return _json(redactor, row.model_dump_json())
        raise ExecutionNotFound(execution_id)

    @router.get(
        "/executions/{execution_id}/result",
        response_model=ExecutionResult,
        responses={202: {"model": Pending}, 404: {"model": ErrorBody}},
    )
    async def get_result(
        execution_id: UUID,
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS)] = 0.0,
    ) -> Response:
        """The result once terminal (200), else the status (202) after up to ``wait`` seconds."""
        future = await asyncio.to_thread(engine.result_future, execution_id)
        if not future.done() and wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.wrap_future(future), wait)
        if not future.done() or future.cancelled():
            future.cancel()  # our own future: the execution and other waiters go on
            status = await asyncio.to_thread(engine.get_status, execution_id)
            return _json(redactor, Pending(status=status).model_dump_json(), 202)
        return _json(redactor, future.result().model_dump_json())

    @router.post(
        "/executions/{execution_id}/cancel",
        response_model=CancelAnswer,
        responses={404: {"model": ErrorBody}},
    )
    def cancel(execution_id: UUID) -> Response:
        """Cancel a pending or running execution; ``false`` if it had ended."""
        return _json(
            redactor, CancelAnswer(cancelled=engine.cancel(execution_id)).model_dump_json()
        )

    @router.get(
        "/executions/{execution_id}/logs",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}, 404: {"model": ErrorBody}},
    )
    def logs(execution_id: UUID) -> Response:
        """The execution's log file, as text."""
        engine.get_status(execution_id)
        text = redactor.text(engine.read_logs(execution_id))
        return Response(text, media_type="text/plain; charset=utf-8")

    @router.get("/metrics", response_model=ConcurrencyMetrics)
    def metrics() -> Response:
        """The concurrency budget now."""
        return _json(redactor, engine.get_concurrency_metrics().model_dump_json())

    @router.get(
        "/events",
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {}}},
            503: {"model": ErrorBody},
        },
    )
    async def events(
        request: Request,
        execution_id: UUID | None = None,
        types: Annotated[str | None, Query(description="comma-separated event types")] = None,
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> Response:
        """Server-Sent Events: ``id:`` a cursor, ``event:`` the type, ``data:`` the event."""
        wanted = None
        if types is not None:
            wanted = frozenset(t.strip() for t in types.split(",") if t.strip())
            unknown = sorted(wanted - _EVENT_TYPES)
            if unknown:
                return _json(
                    redactor,
                    ErrorBody(detail=f"unknown event types: {unknown}").model_dump_json(),
                    422,
                )
        if execution_id is not None:
            await asyncio.to_thread(engine.get_status, execution_id)
        if not hub.running:
            hub.start(request.app.state.event_source)
        try:
            frames = await hub.stream(last_event_id, execution_id, wanted)
        except HubFull:
            return _json(
                redactor, ErrorBody(detail="too many event streams open").model_dump_json(), 503
            )
        return StreamingResponse(
            frames,
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    return router
