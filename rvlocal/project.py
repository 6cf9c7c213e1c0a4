"""Where things are in a checkout, and the version file every other part reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rvlocal.errors import RvlocalError

DEFAULT_PROJECT_NAME = "rvlocal"


def find_root(start: Path | None = None) -> Path:
    """The repository root: the nearest parent holding compose/compose.yaml."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "compose" / "compose.yaml").is_file():
            return candidate
    raise RvlocalError(
        f"no rvlocal checkout found at or above {here} (looked for compose/compose.yaml)",
        "Run rvlocal from inside the repository, or pass --root PATH.",
    )


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines as compose reads them (comments and blank lines ignored)."""
    values: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise RvlocalError(f"line {n} of the version file is not KEY=VALUE: {raw!r}")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


@dataclass(frozen=True)
class Project:
    root: Path

    @classmethod
    def discover(cls, root: Path | None = None) -> "Project":
        return cls(find_root(root))

    @property
    def compose_dir(self) -> Path:
        return self.root / "compose"

    @property
    def compose_file(self) -> Path:
        return self.compose_dir / "compose.yaml"

    @property
    def versions_file(self) -> Path:
        return self.compose_dir / ".env"

    @property
    def state_dir(self) -> Path:
        return self.root / ".rvlocal"

    def versions(self) -> dict[str, str]:
        """Image references, ports and defaults from compose/.env."""
        return parse_env_file(self.versions_file.read_text(encoding="utf-8"))
