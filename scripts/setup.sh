#!/usr/bin/env bash
# Prepare this machine for bakery: a virtualenv with bakery installed, a Docker
# engine that answers, and the debian:bookworm base image. Idempotent: a second
# run checks and returns quickly. Debian/Ubuntu only for the apt steps.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BAKERY_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

APT_UPDATED=""
apt_install() {
    command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
    if [ -z "$APT_UPDATED" ]; then
        say "apt-get update"
        $SUDO apt-get update -q >/dev/null
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# 1. Python virtualenv with bakery installed (re-installed only when pyproject changes).
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install python3-venv
fi
if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtualenv $VENV"
    "$PY" -m venv "$VENV"
fi
STAMP="$VENV/.bakery-installed"
WANT="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    say "installing bakery and its dependencies into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -U pip >/dev/null
    "$VENV/bin/pip" install -q --disable-pip-version-check -e "$ROOT[dev]"
    echo "$WANT" > "$STAMP"
fi

# 2. Host tools: mmdebstrap bootstraps base images; git for revisions; packer for the second
#    builder (`bakery build --builder packer`); wrk for the rollout benchmark's load; chromium
#    (headless) for the test that looks at a rollout report as a person would; postgresql for the
#    state store's tests and benchmark (they start a throwaway cluster with initdb/pg_ctl).
missing=()
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
command -v git >/dev/null || missing+=(git)
command -v packer >/dev/null || missing+=(packer)
command -v wrk >/dev/null || missing+=(wrk)
command -v chromium >/dev/null || missing+=(chromium)
command -v dpkg-deb >/dev/null || missing+=(dpkg)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null \
    || missing+=(postgresql)
# ssh ships images to hosts (docker save | ssh docker load); without it bakery falls back to the
# docker SDK's slower paramiko transport.
command -v ssh >/dev/null || missing+=(openssh-client)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

# 3. A Docker engine that answers.
engine_answers() { "$VENV/bin/python" -c 'import docker; docker.from_env(timeout=5).ping()' 2>/dev/null; }
if ! engine_answers; then
    if ! command -v dockerd >/dev/null; then
        apt_install docker.io
    fi
    command -v docker >/dev/null || apt_install docker-cli 2>/dev/null || true
    if ! engine_answers; then
        say "starting dockerd in the background (log: /var/log/bakery-dockerd.log)"
        # No systemd on these machines: start the daemon ourselves, detached.
        nohup $SUDO dockerd >/var/log/bakery-dockerd.log 2>&1 </dev/null &
        for _ in $(seq 1 60); do
            engine_answers && break
            sleep 1
        done
        engine_answers || die "dockerd did not answer within 60s; see /var/log/bakery-dockerd.log"
    fi
fi
say "docker engine answers"

# 4. The base image every example builds on (a no-op when present).
"$VENV/bin/bakery" --project "$ROOT" base debian:bookworm
