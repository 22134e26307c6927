#!/usr/bin/env bash
# Benchmarks: gpiocore against bare gpiod, python-periphery and gpiozero, and against
# the kernel's own limit, on the real gpio-sim module in one qemu guest; prints one
# table and writes results/bench.json (git-ignored).
#   ci/bench.sh           the full run (about 5 minutes)
#   ci/bench.sh --quick   few samples: CI's smoke run, so the script cannot rot
#   ci/bench.sh --plot results/bench.png   also draw the latency and throughput pictures
# Other options pass through to `gpiosim bench` (--json PATH, --cold, --no-guest, --only,
# --plot FILE.png, --from JSON, --quiet).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
# The peers live in the `bench` extra, matplotlib in `plot`; reinstall only when the metadata changed.
stamp=.venv/.gpiorig-bench-installed
if [ ! -e "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,bench,plot]'
    touch "$stamp"
fi
exec .venv/bin/gpiosim bench "$@"
