#!/bin/sh
# Build (or find in the cache) the gpiosim guest kernel and print its path.
# All the logic lives in gpiosim/guest/ (_kernel, _source, _kconfig, _steps); this only
# runs it from the checkout.
#   ci/build-guest-kernel.sh [--rebuild]
# PYTHON picks the interpreter (default: python3); the kernel is cached under
# ${XDG_CACHE_HOME:-~/.cache}/gpiorig/kernel.
set -eu
cd "$(dirname "$0")/.."
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" exec "${PYTHON:-python3}" -m gpiosim guest-kernel "$@"
