"""Offline image recipes: Debian packages → root filesystem (mmdebstrap) → `docker import`.

For machines that reach Debian's archive but no container registry. Each image keeps the
official image's paths, user and entrypoint, so compose.yaml works unchanged with either.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from rvlocal.errors import RvlocalError, docker_failure

DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Kept out of the images: they are large and nothing reads them at run time.
EXCLUDED_PATHS = ("/usr/share/man/*", "/usr/share/doc/*", "/usr/share/locale/*", "/usr/share/info/*")


@dataclass(frozen=True)
class Recipe:
    key: str
    suite: str
    packages: tuple[str, ...]
    main_package: str  # its version is recorded in the image's labels
    customize: tuple[str, ...] = ()  # shell run on the host; "$1" is the root filesystem
    changes: tuple[str, ...] = ()  # Dockerfile instructions applied by `docker import`


RECIPES: dict[str, Recipe] = {
    # Prometheus 3.x from Debian sid, laid out like prom/prometheus.
    "prometheus": Recipe(
        key="prometheus",
        suite="sid",
        packages=("prometheus", "ca-certificates"),
        main_package="prometheus",
        customize=('mkdir -p "$1/prometheus" && chown 65534:65534 "$1/prometheus"',),
        changes=(
            "USER nobody",
            "WORKDIR /prometheus",
            "EXPOSE 9090",
            'ENTRYPOINT ["/bin/prometheus"]',
            'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]',
        ),
    ),
    # Alertmanager from Debian sid (binary is prometheus-alertmanager), laid out like
    # prom/alertmanager; wget for the same healthcheck the official (busybox) image runs.
    "alertmanager": Recipe(
        key="alertmanager",
        suite="sid",
        packages=("prometheus-alertmanager", "wget", "ca-certificates"),
        main_package="prometheus-alertmanager",
        customize=(
            'ln -sf prometheus-alertmanager "$1/usr/bin/alertmanager"',
            'mkdir -p "$1/etc/alertmanager" "$1/alertmanager"',
            'cp "$1/etc/prometheus/alertmanager.yml" "$1/etc/alertmanager/alertmanager.yml"',
            'chown 65534:65534 "$1/alertmanager"',
        ),
        changes=(
            "USER nobody",
            "WORKDIR /alertmanager",
            "EXPOSE 9093",
            'ENTRYPOINT ["/bin/alertmanager"]',
            'CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]',
        ),
    ),
    # Base for the backend build when python:*-slim cannot be pulled.
    "python-base": Recipe(
        key="python-base",
        suite="bookworm",
        packages=("python3", "python3-venv", "ca-certificates"),
        main_package="python3",
        changes=('CMD ["python3"]',),
    ),
}


def mmdebstrap_available() -> bool:
    return shutil.which("mmdebstrap") is not None


def mmdebstrap_command(recipe: Recipe, tarball: Path, version_file: Path, mirror: str) -> list[str]:
    cmd = [
        "mmdebstrap",
        "--variant=essential",
        "--include=" + ",".join(recipe.packages),
        "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
        # sid is served from a snapshot whose Release file may have expired.
        "--aptopt=Acquire::Check-Valid-Until \"false\"",
    ]
    cmd += [f"--dpkgopt=path-exclude={p}" for p in EXCLUDED_PATHS]
    cmd += [f"--customize-hook={step}" for step in recipe.customize]
    cmd.append(
        "--customize-hook=dpkg-query --admindir=\"$1/var/lib/dpkg\" -W -f='${Version}' "
        f"{recipe.main_package} > {version_file}"
    )
    cmd += [recipe.suite, str(tarball), mirror]
    return cmd


def build(recipe: Recipe, tag: str, docker: DockerClient, mirror: str = DEFAULT_MIRROR,
          log=lambda line: None) -> str:
    """Build `tag` from `recipe`; returns the main package's Debian version."""
    if not mmdebstrap_available():
        raise RvlocalError(
            f"cannot build {tag} offline: mmdebstrap is not installed",
            "On Debian: apt-get install -y mmdebstrap (scripts/bootstrap.sh does this).",
        )
    with tempfile.TemporaryDirectory(prefix=f"rvlocal-{recipe.key}-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        version_file = Path(tmp) / "version"
        cmd = mmdebstrap_command(recipe, tarball, version_file, mirror)
        log("$ " + " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n  ".join(proc.stderr.strip().splitlines()[-10:])
            raise RvlocalError(
                f"building {tag} with mmdebstrap failed (exit {proc.returncode})\n  {tail}",
                f"Check that {mirror} is reachable (apt-get update works) and run rvlocal images again.",
            )
        version = version_file.read_text().strip()
        changes = list(recipe.changes) + [
            f"LABEL org.rvlocal.recipe={recipe.key}",
            f"LABEL org.rvlocal.package={recipe.main_package}={version}",
        ]
        try:
            docker.image.import_(tarball, tag=tag, changes=changes)
        except DockerException as exc:
            raise docker_failure(f"importing {tag}", exc) from exc
    return version
