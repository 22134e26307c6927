#!/usr/bin/env bash
# The main job: the post's timed-LED program, driven on the default backend (fake),
# printing what the LED did. GPIOCORE_BACKEND=sim runs it on the real kernel module
# (inside the guest: .venv/bin/gpiosim guest -- .venv/bin/gpiosim demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh --python
exec .venv/bin/gpiosim demo "$@"
