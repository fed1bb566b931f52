"""examples/fastapi_app.py: the engine's app mounted under /engine next to other routes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from tests._web import TOKEN, serve
from tests.conftest import EngineFactory

pytestmark = pytest.mark.timeout(60)


def load_example() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "examples" / "fastapi_app.py"
    spec = importlib.util.spec_from_file_location("fastapi_app_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_mounted_engine_serves_its_api_page_and_events_under_engine(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine()
    app = load_example().build(engine, TOKEN)
    app.state.hub = app.routes[-1].app.state.hub
    with serve(app) as served:
        assert httpx.get(served.url + "/health").json() == {"status": "ok"}
        assert httpx.get(served.url + "/engine/api/metrics").status_code == 401
        body = {"command": {"kind": "exec", "program": sys.executable, "args": ["-c", "print(7)"]}}
        with served.client.stream("GET", "/engine/api/events") as stream:
            lines = stream.iter_lines()
            assert next(lines) == "retry: 2000"
            submitted = served.client.post("/engine/api/executions", json=body)
            assert submitted.status_code == 202
            assert any(line == "event: completed" for line in lines)
        with httpx.Client(base_url=served.url) as browser:
            first = browser.get("/engine/", params={"token": TOKEN})
            assert first.status_code == 303
            assert first.headers["location"] == "/engine/"
            assert "Path=/engine" in first.headers["set-cookie"]
            page = browser.get("/engine/")
            assert 'src="static/app.js"' in page.text
            assert browser.get("/engine/static/app.js").status_code == 200


def test_actors_web_exports_the_app_factory_and_the_server() -> None:
    import actors.web

    assert actors.web.__all__ == ["HubServer", "create_app", "serve_http"]
    for name in actors.web.__all__:
        assert getattr(actors.web, name).__doc__


def test_import_actors_works_without_the_web_extra() -> None:
    code = (
        "import sys; sys.modules['fastapi'] = None; sys.modules['uvicorn'] = None\n"
        "import actors, actors.aio, messages\n"
        "assert 'fastapi' not in [m for m in sys.modules if sys.modules[m] is not None]"
    )
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
