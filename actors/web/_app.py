"""``create_app``: the engine as a FastAPI app, behind the security middleware."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError

from actors import ExecutionEngine
from actors.aio import AsyncExecutionEngine
from messages import (
    DuplicateExecution,
    EngineStopped,
    ExecutionError,
    ExecutionNotFound,
    InvalidRequest,
    QueueFull,
)

from ._hub import EventHub
from ._routes import api_router
from ._security import DEFAULT_MAX_BODY_BYTES, Redactor, SecurityMiddleware

__all__ = ["create_app"]

_STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
_ERROR_STATUS: tuple[tuple[type[ExecutionError], int], ...] = (
    (ExecutionNotFound, 404),
    (DuplicateExecution, 409),
    (InvalidRequest, 422),
    (QueueFull, 503),
    (EngineStopped, 503),
    (ExecutionError, 503),
)


def create_app(
    engine: ExecutionEngine,
    *,
    token: str,
    allowed_hosts: Iterable[str] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_sse_clients: int = 500,
    sse_buffer_events: int = 10_000,
) -> FastAPI:
    """The engine's REST API, its SSE stream and the dashboard, as one FastAPI app.

    The caller owns ``engine`` (and shuts it down). The app reads the engine's
    events from its lifespan's start, or from the first SSE request when a
    parent app does not run the lifespan of a mounted one.

    Args:
        engine: the engine to serve.
        token: the secret every request must carry (Bearer header, ``?token=``
            once, then the cookie it sets); it is redacted from everything served.
        allowed_hosts: the ``Host`` names accepted (DNS rebinding); None accepts
            any host, still checking ``Origin`` against it.
        max_body_bytes: the largest request body; bigger ones get 413.
        max_sse_clients: event streams open at once; more get 503.
        sse_buffer_events: events kept for ``Last-Event-ID`` resume.

    Raises:
        ValueError: ``token`` is empty.
    """
    if not token:
        raise ValueError("token must not be empty")
    redactor = Redactor((*engine.config.redact, token))
    hub = EventHub(redactor, max_events=sse_buffer_events, max_clients=max_sse_clients)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.start(app.state.event_source)
        try:
            yield
        finally:
            await hub.close()

    app = FastAPI(
        title="cloudops-execution-engine",
        summary="Run shell commands and watch their output live.",
        lifespan=lifespan,
        docs_url=None,  # the Swagger page loads its script from a CDN
        redoc_url=None,
    )
    aengine = AsyncExecutionEngine(engine=engine)
    # One engine-wide stream feeds the hub; SSE clients never subscribe to the engine.
    app.state.event_source = aengine.events
    app.state.hub = hub
    app.include_router(api_router(engine, hub, redactor))
    _add_error_handlers(app, redactor)
    _add_dashboard(app)
    app.add_middleware(
        SecurityMiddleware,
        token=token,
        allowed_hosts=allowed_hosts,
        max_body_bytes=max_body_bytes,
    )
    return app


def _add_error_handlers(app: FastAPI, redactor: Redactor) -> None:
    def answer(status: int, detail: Any) -> Response:
        body = redactor.json(json.dumps({"detail": detail}))
        return Response(body, status_code=status, media_type="application/json")

    async def engine_error(request: Request, exc: Exception) -> Response:
        status = next(code for kind, code in _ERROR_STATUS if isinstance(exc, kind))
        return answer(status, str(exc))

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return answer(422, safe_errors(exc.errors()))

    app.add_exception_handler(ExecutionError, engine_error)
    app.add_exception_handler(RequestValidationError, invalid)


def safe_errors(errors: Iterable[Any]) -> list[dict[str, Any]]:
    """pydantic's errors without the input they echo; an ``env`` value is never named."""
    safe: list[dict[str, Any]] = []
    for error in errors:
        loc = [part if isinstance(part, int | str) else str(part) for part in error.get("loc", ())]
        msg = str(error.get("msg", ""))
        if "env" in loc[:2]:
            rest = loc[loc.index("env") + 1 :]
            if rest and rest[-1] != "[key]":
                msg = f"the value of environment variable {rest[0]!s} is invalid (not shown)"
            elif not rest:
                msg = "env must be an object of variable names to text values"
        safe.append({"type": error.get("type", "value_error"), "loc": loc, "msg": msg})
    return safe


def _add_dashboard(app: FastAPI) -> None:
    static = resources.files("actors.web") / "static"
    page = (static / "index.html").read_bytes()
    assets = {name: (static / name).read_bytes() for name in _STATIC}

    @app.get("/", include_in_schema=False)
    def dashboard() -> Response:
        return Response(page, media_type="text/html; charset=utf-8")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/static/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in assets:
            return Response(b'{"detail":"Not Found"}', 404, media_type="application/json")
        return Response(assets[name], media_type=_STATIC[name])
