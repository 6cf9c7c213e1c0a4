"""Everything `rvlocal promote` writes, rendered in memory from the local sources and a profile."""

from __future__ import annotations

from rvlocal.project import Project
from rvlocal.promote import helm_values, manifests
from rvlocal.promote.bundle import Bundle
from rvlocal.promote.local import LocalStack
from rvlocal.promote.localize import Localizer
from rvlocal.promote.profile import Profile


def render(project: Project, profile: Profile) -> Bundle:
    local = LocalStack(project)
    localize = Localizer.for_profile(project, profile)
    files = [
        *manifests.prometheus_rules(local, profile, localize),
        manifests.backend_service_monitor(local, profile),
        *manifests.dashboard_configmaps(local, profile, localize),
        manifests.datasources_configmap(local, profile, localize),
        manifests.network_policy(profile),
    ]
    values = helm_values.values_files(local, profile, localize)
    files += values.values()
    files.append(manifests.kustomization(profile, files, {chart: f.path for chart, f in values.items()}))
    return Bundle(profile.name, files)
