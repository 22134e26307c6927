#!/usr/bin/env bash
# The whole test suite, from a fresh machine (README's test command; .ci/run calls it):
#  1. set-up (venv, and qemu + kernel build tools from Debian if missing);
#  2. lint (ruff) and types (mypy);
#  3. the suite on the fake backend, on the host (and the host-side tests of the guest,
#     the chips' error checks, rig files, the pi backend's discovery and validation);
#  4. the guest kernel (built once, then cached under ~/.cache/gpiorig);
#  5. the suite again with --backend=sim, inside the guest, against the real gpio-sim
#     module, in one pytest process; GPIOSIM_REQUIRE=1 turns a missing gpio-sim into
#     a failure rather than a skip (1 vCPU: on 2, gpio-sim's irq_work may merge two
#     pull writes a few microseconds apart into one edge, which the tests of exact
#     edge counts would read as a kernel change);
#  6. a downstream project installs gpiorig like a user and runs its own tests (fake on
#     the host, sim in the guest);
#  7. the benchmarks' quick run, so the script cannot rot (no timing is asserted).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
step() { echo; echo "== $* ($((SECONDS - t0)) s)"; }

step "set-up"
bash ci/setup.sh
PY=.venv/bin/python

step "lint: ruff, mypy"
.venv/bin/ruff check .
.venv/bin/mypy gpiocore gpiosim

step "host: the suite on the fake backend"
$PY -m pytest -p no:cacheprovider -m "not gpio_sim" "$@"

step "guest kernel"
bash ci/build-guest-kernel.sh

step "guest: the suite on the sim backend (real gpio-sim)"
GPIOSIM_REQUIRE=1 $PY -m gpiosim guest --timeout 2400 -- \
    $PY -m pytest -p no:cacheprovider --backend=sim -m "gpio_sim or uses_backend" "$@"

step "downstream: porch-light against an installed gpiorig (fake on the host, sim in the guest)"
bash ci/downstream.sh

step "benchmarks: quick run"
bash ci/bench.sh --quick

step "done"
