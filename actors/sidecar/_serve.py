"""Placeholder until the sidecar lands (next commit)."""

from __future__ import annotations

import argparse

from actors.cli._views import Sink

__all__ = ["serve_stdio", "write_schema"]


def serve_stdio(args: argparse.Namespace) -> int:
    """Serve the engine over stdio (not yet)."""
    raise SystemExit("execution-engine: serve --stdio: not implemented yet")


def write_schema(out: Sink) -> int:
    """Write the OpenRPC document (not yet)."""
    raise SystemExit("execution-engine: schema: not implemented yet")
