#!/usr/bin/env bash
# Idempotent set-up of a fresh Debian 12 machine for gpiorig.
#   ci/setup.sh          virtual environment + the Debian packages the guest needs
#   ci/setup.sh --python only the virtual environment (enough for the fake backend)
# The venv is .venv in the checkout, with gpiorig installed editable and its extras.
# Which Debian packages the guest needs (qemu, kernel build tools) is gpiosim's own
# knowledge (`gpiosim guest-kernel --missing-packages`); they are installed only when
# missing, which needs root; without root the script names them and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# Reinstall only when the project's metadata changed (pip is slow to say "nothing to do").
stamp=.venv/.gpiorig-installed
if [ ! -e "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
    touch "$stamp"
fi

[ "${1:-}" = "--python" ] && exit 0

mapfile -t missing < <(.venv/bin/gpiosim guest-kernel --missing-packages)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "ci/setup.sh: the guest needs Debian packages: ${missing[*]}" >&2
        echo "  install them with: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "ci/setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine's package lists are empty or stale.
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
