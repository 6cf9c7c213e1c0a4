"""Which image each service runs: present, else pulled, else built offline, else unavailable."""

from __future__ import annotations

import hashlib
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Callable

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from rvlocal import offline
from rvlocal.errors import RvlocalError, docker_failure
from rvlocal.project import Project
from rvlocal.services import Service, by_name

SOURCE_HASH_LABEL = "org.rvlocal.source-hash"
# What the backend image is built from; a change here rebuilds it on the next `up`.
BACKEND_SOURCES = ("compose/backend/Dockerfile", "rvlocal/__init__.py", "rvlocal/backend")


class Availability(str, Enum):
    PRESENT = "present"
    PULLABLE = "pullable"
    BUILDABLE = "buildable offline"
    FROM_REPO = "built from this repository"
    UNAVAILABLE = "unavailable"


@dataclass
class ImageChoice:
    service: str
    official: str  # the reference pinned in compose/.env
    image: str  # the reference compose will run
    availability: Availability
    detail: str = ""
    recipe: str | None = None  # offline recipe to build when availability is BUILDABLE

    @property
    def usable(self) -> bool:
        return self.availability is not Availability.UNAVAILABLE


@dataclass
class ImagePlan:
    choices: dict[str, ImageChoice] = field(default_factory=dict)
    python_base: ImageChoice | None = None

    @property
    def unavailable(self) -> dict[str, str]:
        return {n: c.detail for n, c in self.choices.items() if not c.usable}

    def env_overrides(self) -> dict[str, str]:
        """Env-file entries that point compose at the images chosen here."""
        out = {by_name(n).image_var: c.image for n, c in self.choices.items() if c.usable}
        if self.python_base and self.python_base.usable:
            out["PYTHON_BASE_IMAGE"] = self.python_base.image
        return out


def registry_reachable(docker: DockerClient, ref: str) -> tuple[bool, str]:
    """Whether `ref` could be pulled, asked of the registry without pulling it."""
    try:
        docker.manifest.inspect(ref)
        return True, ""
    except DockerException as exc:
        return False, short_registry_error(exc.stderr or str(exc))


def short_registry_error(text: str) -> str:
    """One readable clause out of Docker's nested registry error text."""
    host = re.search(r"lookup (\S+?)(?: on \S+)?: no such host", text)
    if host:
        return f"registry unreachable: cannot resolve {host.group(1)}"
    if "connection refused" in text or "i/o timeout" in text:
        return "registry unreachable: " + ("connection refused" if "refused" in text else "timed out")
    if "manifest unknown" in text or "no such manifest" in text:
        return "no such tag in the registry"
    lines = text.strip().splitlines()
    return (lines[-1] if lines else "registry did not answer")[:160]


def _choose(name: str, official: str, recipe_key: str | None, offline_tag: str | None,
            exists: Callable[[str], bool], pullable: Callable[[str], tuple[bool, str]],
            can_build_offline: bool) -> ImageChoice:
    if exists(official):
        return ImageChoice(name, official, official, Availability.PRESENT)
    ok, why = pullable(official)
    if ok:
        return ImageChoice(name, official, official, Availability.PULLABLE)
    if offline_tag and exists(offline_tag):
        return ImageChoice(name, official, offline_tag, Availability.PRESENT,
                           f"offline build ({official} cannot be pulled: {why})", recipe_key)
    if recipe_key and offline_tag and can_build_offline:
        return ImageChoice(name, official, offline_tag, Availability.BUILDABLE,
                           f"{official} cannot be pulled ({why}); Debian-package recipe",
                           recipe_key)
    reason = f"not present, cannot be pulled ({why})"
    if recipe_key:
        reason += "; the offline recipe needs mmdebstrap (apt-get install -y mmdebstrap)"
    else:
        reason += "; no offline recipe exists for it"
    return ImageChoice(name, official, official, Availability.UNAVAILABLE, reason)


def plan(services: list[Service], versions: dict[str, str], exists: Callable[[str], bool],
         pullable: Callable[[str], tuple[bool, str]], can_build_offline: bool) -> ImagePlan:
    """Decide, without changing anything, which image each service will run."""
    result = ImagePlan()
    for service in services:
        if service.built_from_repo:
            continue
        offline_tag = versions.get(f"{service.offline_recipe.upper()}_OFFLINE_IMAGE") if service.offline_recipe else None
        result.choices[service.name] = _choose(
            service.name, versions[service.image_var], service.offline_recipe, offline_tag,
            exists, pullable, can_build_offline)
    repo_built = [s for s in services if s.built_from_repo]
    if repo_built:
        base = _choose("python-base", versions["PYTHON_BASE_IMAGE"], "python-base",
                       versions.get("PYTHON_BASE_OFFLINE_IMAGE"), exists, pullable,
                       can_build_offline)
        result.python_base = base
        for service in repo_built:
            ref = versions[service.image_var]
            if base.usable:
                result.choices[service.name] = ImageChoice(
                    service.name, ref, ref, Availability.FROM_REPO,
                    f"compose/backend/Dockerfile on {base.image}")
            else:
                result.choices[service.name] = ImageChoice(
                    service.name, ref, ref, Availability.UNAVAILABLE,
                    f"no Python base image: {base.detail}")
    return result


def local_tags(docker: DockerClient) -> set[str]:
    """Every repo:tag the engine holds, in one call (one `docker image inspect` per image is slow)."""
    tags: set[str] = set()
    for image in docker.image.list():
        for tag in image.repo_tags or []:
            tags.add(tag)
            if tag.startswith("docker.io/"):
                tags.add(tag.removeprefix("docker.io/"))
    return tags


def plan_with_docker(services: list[Service], versions: dict[str, str], docker: DockerClient,
                     ask_registry: bool = True) -> ImagePlan:
    """plan() against this engine and registry (ask_registry=False: treat pulls as impossible).
    Registry questions for absent images are asked in parallel, once each."""
    tags = local_tags(docker)
    exists = tags.__contains__
    answers: dict[str, tuple[bool, str]] = {}
    if ask_registry:
        refs = {versions[s.image_var] for s in services if not s.built_from_repo}
        refs.add(versions["PYTHON_BASE_IMAGE"])
        absent = sorted(r for r in refs if not exists(r))
        if absent:
            with ThreadPoolExecutor(max_workers=8) as pool:
                answers = dict(zip(absent, pool.map(lambda r: registry_reachable(docker, r), absent)))
    pullable = lambda ref: answers.get(ref, (False, "not asked"))  # noqa: E731
    return plan(services, versions, exists, pullable, offline.mmdebstrap_available())


def source_hash(project: Project, base_image: str) -> str:
    """Content hash of everything the backend image is built from."""
    digest = hashlib.sha256(base_image.encode())
    for rel in BACKEND_SOURCES:
        path = project.root / rel
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            if "__pycache__" in f.parts:
                continue
            digest.update(str(f.relative_to(project.root)).encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def backend_is_current(docker: DockerClient, ref: str, wanted_hash: str) -> bool:
    if not docker.image.exists(ref):
        return False
    labels = docker.image.inspect(ref).config.labels or {}
    return labels.get(SOURCE_HASH_LABEL) == wanted_hash


def copy_host_ca_certificates(project: Project, source_dir: Path = Path("/usr/local/share/ca-certificates")) -> int:
    """Give the backend build the host's extra CAs (TLS-intercepting proxies); returns how many."""
    target = project.compose_dir / "backend" / "ca-certificates"
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.crt"):
        old.unlink()
    count = 0
    if source_dir.is_dir():
        for crt in sorted(source_dir.rglob("*.crt")):
            shutil.copyfile(crt, target / crt.name)
            count += 1
    return count


def ensure(plan_: ImagePlan, docker: DockerClient, log: Callable[[str], None] = lambda m: None,
           mirror: str = offline.DEFAULT_MIRROR) -> None:
    """Pull or build what the plan needs; a failure marks that service unavailable."""
    wanted = list(plan_.choices.values())
    if plan_.python_base:
        wanted.append(plan_.python_base)
    built: dict[str, str] = {}
    for choice in wanted:
        if choice.availability is Availability.PULLABLE:
            log(f"pulling {choice.image}")
            try:
                docker.image.pull(choice.image, quiet=True)
                choice.availability, choice.detail = Availability.PRESENT, "pulled"
            except DockerException as exc:
                choice.availability = Availability.UNAVAILABLE
                choice.detail = f"pull of {choice.image} failed: {short_registry_error(exc.stderr or str(exc))}"
        elif choice.availability is Availability.BUILDABLE and choice.recipe:
            if choice.image in built:
                choice.availability, choice.detail = Availability.PRESENT, built[choice.image]
                continue
            log(f"building {choice.image} from Debian packages (mmdebstrap, about a minute)")
            try:
                version = offline.build(offline.RECIPES[choice.recipe], choice.image, docker,
                                        mirror=mirror, log=log)
                choice.availability = Availability.PRESENT
                choice.detail = f"built offline from Debian {offline.RECIPES[choice.recipe].main_package} {version}"
                built[choice.image] = choice.detail
            except RvlocalError as exc:
                choice.availability, choice.detail = Availability.UNAVAILABLE, exc.message
    if plan_.python_base and not plan_.python_base.usable:
        for choice in plan_.choices.values():
            if choice.availability is Availability.FROM_REPO:
                choice.availability = Availability.UNAVAILABLE
                choice.detail = f"no Python base image: {plan_.python_base.detail}"


def build_backend(project: Project, docker: DockerClient, ref: str, base_image: str,
                  log: Callable[[str], None] = lambda m: None) -> bool:
    """Build the backend/alert-sink image when its sources changed; True when it built."""
    wanted = source_hash(project, base_image)
    if backend_is_current(docker, ref, wanted):
        return False
    n = copy_host_ca_certificates(project)
    log(f"building {ref} from compose/backend/Dockerfile on {base_image}"
        + (f" ({n} extra CA certificates)" if n else ""))
    try:
        docker.compose.build(["backend"], build_args={"BASE_IMAGE": base_image,
                                                      "SOURCE_HASH": wanted}, quiet=True)
    except DockerException as exc:
        raise docker_failure(
            f"building {ref}", exc,
            "If pip cannot reach PyPI, put your proxy's CA certificate in "
            "/usr/local/share/ca-certificates/ and run rvlocal up again.") from exc
    return True


def present(service_name: str, versions: dict[str, str], docker: DockerClient) -> str:
    """The image this machine has for a service (official or offline-built), for running its
    tools (promtool, amtool) outside the stack."""
    plan_ = plan_with_docker([by_name(service_name)], versions, docker, ask_registry=False)
    choice = plan_.choices[service_name]
    if choice.availability is not Availability.PRESENT:
        raise RvlocalError(f"no {service_name} image on this machine", "Run rvlocal up once; it builds or pulls one.")
    return choice.image
