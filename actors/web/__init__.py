"""The engine over HTTP: a FastAPI app with REST, Server-Sent Events and a dashboard.

Installed with the ``web`` extra (``pip install 'cloudops-execution-engine[web]'``).
"""

from ._app import create_app
from ._serve import HubServer, serve_http

__all__ = ["HubServer", "create_app", "serve_http"]
