"""A real uvicorn on 127.0.0.1 with a free port, in a thread, for the web tests.

httpx's in-memory transport buffers whole responses, so an endless SSE stream
would hang there; a real server streams.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi import FastAPI

from actors.web._serve import HubServer

__all__ = ["TOKEN", "Served", "serve"]

TOKEN = "test-token-5f2c9e"


@dataclass
class Served:
    """A running server: its base URL, an authorised client, the uvicorn server."""

    url: str
    client: httpx.Client
    server: HubServer


@contextmanager
def serve(app: FastAPI) -> Iterator[Served]:
    """Serve ``app`` until the block ends; the server stops and its thread is joined."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=3
    )
    server = HubServer(config, app.state.hub)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    url = f"http://127.0.0.1:{server.port}"
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    try:
        yield Served(url, client, server)
    finally:
        client.close()
        server.should_exit = True
        thread.join(30)
        if thread.is_alive():
            raise RuntimeError("uvicorn did not stop")
