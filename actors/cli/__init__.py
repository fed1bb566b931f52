"""The ``execution-engine`` command-line tool, a front end over the public facade.

``run`` runs shell commands in parallel, ``aws`` one AWS CLI call, ``serve
--stdio`` the JSON-RPC sidecar, ``schema`` prints the sidecar's OpenRPC document.
"""

from ._main import main

__all__ = ["main"]
