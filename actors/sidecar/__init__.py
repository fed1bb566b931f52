"""The engine as a JSON-RPC 2.0 sidecar over stdio (``execution-engine serve --stdio``)."""

from ._serve import serve_stdio, write_schema

__all__ = ["serve_stdio", "write_schema"]
