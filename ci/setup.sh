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
    # farm: labgrid, for the bench-farm tests (tests/farm/test_farm.py, docs/bench-farm.md).
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,farm]'
    touch "$stamp"
fi

[ "${1:-}" = "--python" ] && exit 0

mapfile -t missing < <(.venv/bin/gpiosim guest-kernel --missing-packages)
# The bench-farm tests' guests serve ssh with Debian's sshd (never started on the host).
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
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
    # A policy-rc.d (unless the machine has one): installing openssh-server must not
    # start an sshd on the host.
    made_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    apt-get install -y -qq "${missing[@]}" >/dev/null
    if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
