from __future__ import annotations

import io
import shutil
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from rvlocal.backend.app import create_app
from rvlocal.project import Project
from tests.unit.backend_helpers import Harness, settings_for


@pytest.fixture
def make_backend(tmp_path):
    """make_backend(**settings overrides) → a running app (lifespan entered) for this test.
    in_memory_spans=False leaves the settings' own exporter (OTLP) in place."""
    with ExitStack() as stack:
        def make(in_memory_spans: bool = True, **overrides) -> Harness:
            spans, log = InMemorySpanExporter(), io.StringIO()
            app = create_app(settings_for(tmp_path, **overrides), log_stream=log, seed=7,
                             span_exporter=spans if in_memory_spans else None)
            client = stack.enter_context(TestClient(app, raise_server_exceptions=False))
            return Harness(client, spans, log)
        yield make


@pytest.fixture
def backend(make_backend) -> Harness:
    return make_backend()


@pytest.fixture
def live_backend(tmp_path):
    """The backend served by a real uvicorn on a free 127.0.0.1 port (a thread, no Docker).
    Yields (url, app)."""
    import socket
    import threading
    import time

    import uvicorn

    app = create_app(settings_for(tmp_path / "live"), log_stream=io.StringIO(), seed=3)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def source_copy(project, tmp_path) -> Project:
    """The sources promotion and checks read (alerts, dashboards, profiles, compose), in a
    folder the test may edit."""
    for folder in ("alerts", "dashboards", "profiles"):
        shutil.copytree(project.root / folder, tmp_path / folder)
    shutil.copytree(project.compose_dir, tmp_path / "compose", ignore=shutil.ignore_patterns("ca-certificates"))
    return Project(tmp_path)
