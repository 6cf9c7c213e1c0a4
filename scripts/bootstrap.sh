#!/usr/bin/env bash
# Make this machine ready for rvlocal, installing only what is missing:
#   Debian (root): docker.io, the Compose v2 plugin, mmdebstrap; starts dockerd when no engine
#   answers; creates .venv and installs rvlocal with its [dev] extra.
#   Elsewhere (a laptop with Docker Desktop): checks Docker and Compose v2 and explains.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "bootstrap: $*" >&2; }
run() { say "\$ $*"; "$@"; }
die() { say "error: $*"; exit 1; }

COMPOSE_DEB_VERSION="2.26.1-4" # Debian trixie's Compose v2; depends only on libc6
DEBIAN_MIRROR="${RVLOCAL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

is_debian_root() { [ -f /etc/debian_version ] && [ "$(id -u)" = 0 ]; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then run apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive run apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_compose_plugin() {
  local arch deb
  arch="$(dpkg --print-architecture)"
  deb="$(mktemp -d)/docker-compose.deb"
  run curl -fsSL -o "$deb" "$DEBIAN_MIRROR/pool/main/d/docker-compose/docker-compose_${COMPOSE_DEB_VERSION}_${arch}.deb"
  run dpkg -i "$deb" >/dev/null
}

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

start_dockerd() {
  say "starting dockerd (log: /var/log/rvlocal-dockerd.log)"
  nohup dockerd >/var/log/rvlocal-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    engine_answers && return 0
    sleep 1
  done
  tail -20 /var/log/rvlocal-dockerd.log >&2 || true
  die "dockerd did not answer within 60 s"
}

if is_debian_root; then
  command -v dockerd >/dev/null || apt_install docker.io
  command -v mmdebstrap >/dev/null || apt_install mmdebstrap
  command -v curl >/dev/null || apt_install curl ca-certificates
  docker compose version >/dev/null 2>&1 || install_compose_plugin
  engine_answers || start_dockerd
else
  engine_answers || die "no Docker engine answers. Start Docker Desktop (or dockerd) and run this again."
  docker compose version >/dev/null 2>&1 || die "Docker Compose v2 is missing: install the compose plugin."
fi
say "$(docker compose version) on engine $(docker version --format '{{.Server.Version}}')"

if [ ! -x .venv/bin/python ]; then run python3 -m venv .venv; fi
if ! .venv/bin/python -c 'import rvlocal, fastapi, pytest' 2>/dev/null \
   || [ pyproject.toml -nt .venv/.rvlocal-installed ]; then
  run .venv/bin/pip install -q -e '.[dev]'
  touch .venv/.rvlocal-installed
fi
say "ready: .venv/bin/rvlocal"
