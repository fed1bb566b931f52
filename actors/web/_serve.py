"""``serve_http``: the web app on uvicorn, for ``execution-engine serve --http``."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import sys
from typing import Any, TextIO

import uvicorn

from actors import ExecutionEngine
from messages import ExecutionConfig

from ._app import create_app
from ._hub import EventHub

__all__ = ["HubServer", "allowed_hosts_for", "parse_bind", "serve_http"]

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_WILDCARDS = frozenset({"0.0.0.0", "::", "[::]", ""})
# Endless SSE responses never finish by themselves; the hub ends them first,
# and this bounds what is left (a client that never reads).
_GRACEFUL_SHUTDOWN_S = 3


class HubServer(uvicorn.Server):
    """A uvicorn server that ends the SSE streams before it waits for connections to close.

    Args:
        config: uvicorn's configuration of the app.
        hub: the app's event hub (``app.state.hub``).
        engine: shut down once serving stopped, before uvicorn re-raises a signal.
        announce: where the URL (with the token) is printed once listening.
        token: printed in that URL.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        hub: EventHub,
        *,
        engine: ExecutionEngine | None = None,
        announce: TextIO | None = None,
        token: str = "",
    ) -> None:
        super().__init__(config)
        self._hub = hub
        self._engine = engine
        self._announce = announce
        self._token = token

    @property
    def port(self) -> int:
        """The port listened on (useful with port 0)."""
        port: int = self.servers[0].sockets[0].getsockname()[1]
        return port

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start listening, then print the dashboard's URL."""
        await super().startup(sockets)
        if self._announce is not None and self.started:
            host = self.config.host
            shown = "127.0.0.1" if host in _WILDCARDS else host
            shown = f"[{shown}]" if ":" in shown and not shown.startswith("[") else shown
            print(
                f"dashboard: http://{shown}:{self.port}/?token={self._token}", file=self._announce
            )
            self._announce.flush()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """End the SSE streams, stop serving, then shut the engine down."""
        await self._hub.close()
        await super().shutdown(sockets)
        if self._engine is not None:
            # Here, not after serve(): uvicorn re-raises SIGTERM once serve() returns.
            await asyncio.to_thread(self._engine.shutdown)


class _HideToken(logging.Filter):
    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                a.replace(self._token, "***") if isinstance(a, str) else a for a in record.args
            )
        return True


def parse_bind(value: str) -> tuple[str, int]:
    """``[HOST:]PORT`` as (host, port); HOST defaults to 127.0.0.1.

    Raises:
        ValueError: the port is not a number in 0-65535.
    """
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--http wants [HOST:]PORT with PORT in 0-65535, got {value!r}")
    return host, int(port)


def allowed_hosts_for(host: str) -> tuple[str, ...] | None:
    """The ``Host`` names to accept when bound to ``host``; None (any) on a wildcard address."""
    if host in _WILDCARDS:
        return None
    bracketed = f"[{host}]" if ":" in host else host
    return tuple(dict.fromkeys((*_LOOPBACK_NAMES, bracketed.lower())))


def serve_http(
    engine_config: ExecutionConfig | None,
    host: str,
    port: int,
    token: str | None = None,
    *,
    announce: TextIO = sys.stderr,
    **uvicorn_options: Any,
) -> None:
    """Serve a new engine's web app until SIGINT or SIGTERM, then shut the engine down.

    Args:
        engine_config: the engine's config.
        host: the address to bind (127.0.0.1 for loopback only).
        port: the port; 0 picks a free one.
        token: the secret; a random one when None.
        announce: where the dashboard's URL, with the token, is printed.
        **uvicorn_options: more ``uvicorn.Config`` settings (``log_level``...).
    """
    token = token or secrets.token_urlsafe(24)
    engine = ExecutionEngine(engine_config)
    try:
        app = create_app(engine, token=token, allowed_hosts=allowed_hosts_for(host))
        if host in _WILDCARDS:
            print(f"warning: listening on {host or '*'}: reachable from the network", file=announce)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
            **uvicorn_options,
        )
        logging.getLogger("uvicorn.access").addFilter(_HideToken(token))
        server = HubServer(config, app.state.hub, engine=engine, announce=announce, token=token)
        asyncio.run(server.serve())
    finally:
        engine.shutdown()
