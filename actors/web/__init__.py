"""The engine over HTTP: a FastAPI app with REST, Server-Sent Events and a dashboard.

Installed with the ``web`` extra (``pip install 'cloudops-execution-engine[web]'``).
"""

from ._app import create_app

__all__ = ["create_app"]
