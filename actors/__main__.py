"""``python -m actors``: the ``execution-engine`` command-line tool."""

from __future__ import annotations

from actors.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
