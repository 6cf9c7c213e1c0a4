"""Shared fixtures and markers.

- `docker` / `integration` tests skip when no Docker engine answers, and fail instead when
  CI is set (a CI run that silently skips them would prove nothing).
- `requires_image("GRAFANA_IMAGE")` skips, naming the image, when that image is absent.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
import os
import uuid
from pathlib import Path

import pytest
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from rvlocal.preflight import port_is_free
from rvlocal.project import Project
from rvlocal.services import PORT_VARS

ROOT = Path(__file__).resolve().parents[1]

# testcontainers: Ryuk cannot be pulled here, and /.dockerenv makes it think it runs in a
# container; fixtures clean up after themselves instead.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")

@functools.cache
def engine_answers() -> bool:
    try:
        DockerClient().system.info()
        return True
    except (DockerException, FileNotFoundError):
        return False


def pytest_runtest_setup(item):
    needs_engine = item.get_closest_marker("docker") or item.get_closest_marker("integration")
    if needs_engine and not engine_answers():
        if os.environ.get("CI"):
            pytest.fail("CI is set but no Docker engine answers: .ci/run must start one")
        pytest.skip("no Docker engine answers (scripts/bootstrap.sh starts one)")
    versions = Project(ROOT).versions()
    wanted = [versions[m.args[0]] for m in item.iter_markers("requires_image")]
    missing = [ref for ref in wanted if not DockerClient().image.exists(ref)]
    if missing:
        pytest.skip(f"image{'s' if len(missing) > 1 else ''} {', '.join(missing)} not present "
                    "(no registry reachable here)")


@pytest.fixture(scope="session")
def project() -> Project:
    return Project(ROOT)


@pytest.fixture(scope="session")
def docker() -> DockerClient:
    return DockerClient()


@pytest.fixture
def stack_name() -> str:
    """A project name of its own for every test stack."""
    return f"rvtest-{uuid.uuid4().hex[:8]}"


def free_port_offset(project: Project, start: int = 20000) -> int:
    """An offset whose every published port is free, so tests never collide with a dev stack."""
    base = project.versions()
    for offset in range(start, 45000, 137):
        if all(port_is_free(int(base[v]) + offset) for v in PORT_VARS):
            return offset
    pytest.fail("no free port range found for a test stack")


@pytest.fixture
def port_offset(project: Project) -> int:
    return free_port_offset(project)


@contextmanager
def stack_up(project: Project, first_offset: int, timeout: float = 120, **options):
    """A whole rvlocal stack of its own (unique name, free ports), removed with its volumes."""
    from rvlocal.stack import UpOptions, scratch

    name = f"rvtest-{uuid.uuid4().hex[:8]}"
    port_offset = free_port_offset(project, start=first_offset)
    with scratch(project, UpOptions(name, port_offset=port_offset, timeout=timeout, **options)) as stack:
        yield stack


@pytest.fixture(scope="session")
def server_images(project: Project, docker: DockerClient) -> dict[str, str]:
    """The Prometheus and Alertmanager images the stack runs (their promtool and amtool),
    built offline when absent."""
    from rvlocal import images
    from rvlocal.services import by_name

    plan = images.plan_with_docker([by_name("prometheus"), by_name("alertmanager")], project.versions(), docker)
    images.ensure(plan, docker)
    return {name: choice.image for name, choice in plan.choices.items()}
