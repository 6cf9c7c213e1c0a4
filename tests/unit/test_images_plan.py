"""Image selection: present, else pullable, else offline recipe, else unavailable with a reason."""

from __future__ import annotations

from rvlocal import images
from rvlocal.images import Availability
from rvlocal.services import SERVICES, active_services

NO_REGISTRY = lambda ref: (False, "registry unreachable: cannot resolve registry-1.docker.io")  # noqa: E731


def plan(project, present=(), pullable=NO_REGISTRY, can_build=True):
    return images.plan(active_services(), project.versions(), lambda ref: ref in present,
                       pullable, can_build)


def test_official_image_present_is_used_as_is(project):
    v = project.versions()
    p = plan(project, present={v["PROMETHEUS_IMAGE"]})
    assert p.choices["prometheus"].availability is Availability.PRESENT
    assert p.choices["prometheus"].image == v["PROMETHEUS_IMAGE"]


def test_pullable_beats_an_offline_build(project):
    v = project.versions()
    p = plan(project, present={v["PROMETHEUS_OFFLINE_IMAGE"]}, pullable=lambda ref: (True, ""))
    assert p.choices["prometheus"].availability is Availability.PULLABLE
    assert p.choices["prometheus"].image == v["PROMETHEUS_IMAGE"]


def test_without_registry_prometheus_and_alertmanager_build_offline(project):
    v = project.versions()
    p = plan(project)
    assert p.choices["prometheus"].availability is Availability.BUILDABLE
    assert p.choices["prometheus"].image == v["PROMETHEUS_OFFLINE_IMAGE"]
    assert p.choices["alertmanager"].recipe == "alertmanager"
    assert p.python_base.image == v["PYTHON_BASE_OFFLINE_IMAGE"]
    assert p.choices["backend"].availability is Availability.FROM_REPO


def test_services_without_recipe_are_unavailable_with_the_reason(project):
    p = plan(project)
    for name in ("grafana", "loki", "promtail", "jaeger"):
        choice = p.choices[name]
        assert choice.availability is Availability.UNAVAILABLE
        assert "cannot resolve registry-1.docker.io" in choice.detail
        assert "no offline recipe" in choice.detail
    assert set(p.unavailable) == {"grafana", "loki", "promtail", "jaeger"}


def test_without_mmdebstrap_the_reason_says_how_to_get_it(project):
    p = plan(project, can_build=False)
    assert "apt-get install -y mmdebstrap" in p.choices["prometheus"].detail
    assert "no Python base image" in p.choices["backend"].detail
    assert "backend" in p.unavailable and "alert-sink" in p.unavailable


def test_env_overrides_point_compose_at_the_chosen_images(project):
    v = project.versions()
    p = plan(project, present={v["PROMETHEUS_OFFLINE_IMAGE"], v["ALERTMANAGER_OFFLINE_IMAGE"],
                               v["PYTHON_BASE_OFFLINE_IMAGE"]})
    overrides = p.env_overrides()
    assert overrides["PROMETHEUS_IMAGE"] == v["PROMETHEUS_OFFLINE_IMAGE"]
    assert overrides["PYTHON_BASE_IMAGE"] == v["PYTHON_BASE_OFFLINE_IMAGE"]
    assert "GRAFANA_IMAGE" not in overrides


def test_short_registry_error_is_readable():
    text = ('failed to configure transport: error pinging v2 registry: Get "https://registry-1.docker.io/v2/": '
            "dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host")
    assert images.short_registry_error(text) == "registry unreachable: cannot resolve registry-1.docker.io"


def test_source_hash_changes_with_backend_sources(project, tmp_path):
    import shutil

    from rvlocal.project import Project

    for rel in images.BACKEND_SOURCES:
        src = project.root / rel
        if src.is_dir():
            shutil.copytree(src, tmp_path / rel, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, tmp_path / rel)
    copy = Project(tmp_path)
    before = images.source_hash(copy, "base:1")
    assert images.source_hash(copy, "base:2") != before
    (tmp_path / "rvlocal/backend/app.py").write_text("# changed\n", encoding="utf-8")
    assert images.source_hash(copy, "base:1") != before


def test_every_offline_recipe_keeps_the_official_entrypoint():
    from rvlocal.offline import RECIPES

    assert 'ENTRYPOINT ["/bin/prometheus"]' in RECIPES["prometheus"].changes
    assert 'ENTRYPOINT ["/bin/alertmanager"]' in RECIPES["alertmanager"].changes
    assert all("USER nobody" in RECIPES[k].changes for k in ("prometheus", "alertmanager"))
    assert {s.offline_recipe for s in SERVICES if s.offline_recipe} <= set(RECIPES)
