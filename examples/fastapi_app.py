"""Mount the engine's web app under /engine next to your own FastAPI routes.

    pip install 'cloudops-execution-engine[web]'
    python examples/fastapi_app.py   # then open the printed URL

The engine's app keeps its own guard (token, Origin, body cap) under /engine;
your routes are yours to protect. Starlette does not run a mounted app's
lifespan, so the parent's lifespan runs it (the SSE hub starts and stops there).
"""

from __future__ import annotations

import contextlib
import secrets
import sys
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI

from actors import ExecutionEngine
from actors.web import create_app


def build(engine: ExecutionEngine, token: str) -> FastAPI:
    """Your app, with the engine's app mounted at ``/engine``."""
    engine_app = create_app(engine, token=token)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with engine_app.router.lifespan_context(engine_app):
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.mount("/engine", engine_app)
    return app


def main() -> None:
    """Serve the combined app on 127.0.0.1:8000 until Ctrl-C."""
    token = secrets.token_urlsafe(24)
    with ExecutionEngine() as engine:
        print(f"dashboard: http://127.0.0.1:8000/engine/?token={token}", file=sys.stderr)
        uvicorn.run(build(engine, token), host="127.0.0.1", port=8000, timeout_graceful_shutdown=3)


if __name__ == "__main__":
    main()
