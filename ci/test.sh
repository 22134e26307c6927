#!/usr/bin/env bash
# The whole test suite, from a fresh machine (README's test command; .ci/run calls it):
#  1. set-up (venv, and qemu + kernel build tools from Debian if missing);
#  2. lint (ruff), types (mypy);
#  3. the host suite that needs no kernel: the fake backend, the guest's unit tests, the
#     build machinery on a fake kernel tree (run before any kernel exists, which proves
#     it needs none; GPIOSIM_NO_BUILD=1 makes any attempt to build one fail);
#  4. the guest kernel, Linux 6.12 from Debian's linux-source-6.12 (its own step: a test
#     never builds a kernel);
#  5. the host tests that boot guests (marker `guest`: security, exit codes, signals);
#  6. the suite with --backend=sim inside guests, against the real gpio-sim module: each
#     guest has 1 vCPU (on 2, gpio-sim's irq_work may merge two pull writes a few
#     microseconds apart into one edge), so the suite is split into one shard per core
#     (GPIORIG_GUEST_SHARDS overrides), each a guest with `--shard=I/N`, run at once by
#     ci/guest-shards.sh; GPIOSIM_REQUIRE=1 turns a missing gpio-sim into a failure
#     rather than a skip; under CI the same suite then runs in one guest too, and the
#     ratio of the two wall times is printed (the sharding's measure, in the same run);
#  7. a second kernel, Linux 6.1, built from the source tarball inside Debian's
#     linux-source-6.1 with its sha256 (the tarball path of `--source`), and the
#     fake-versus-kernel and behaviour suites on it (sharded the same way);
#  8. a downstream project installs gpiorig like a user and runs its own tests (fake on
#     the host, sim in the guest), with the commands of its CI recipes;
#  9. the benchmarks' quick run, so the script cannot rot (no timing is asserted).
# Under CI (CI=true) the kernel cache is a fresh empty folder, so every CI run takes the
# cold path a user's first run takes; GPIORIG_WARM_CACHE=1 keeps ~/.cache instead.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
step() { echo; echo "== $* ($((SECONDS - t0)) s)"; }

step "set-up"
bash ci/setup.sh
PY=.venv/bin/python
GPIOSIM=.venv/bin/gpiosim

if [ "${CI:-}" = true ] && [ "${GPIORIG_WARM_CACHE:-0}" != 1 ]; then
    XDG_CACHE_HOME=$(mktemp -d /tmp/gpiorig-cold-cache.XXXXXX)
    export XDG_CACHE_HOME
    trap 'rm -rf "$XDG_CACHE_HOME"' EXIT
    echo "   cold kernel cache: $XDG_CACHE_HOME (empty)"
fi
# Which kernel the guest uses is this script's choice, not the caller's environment's.
unset GPIOSIM_KERNEL GPIOSIM_KERNEL_SOURCE GPIOSIM_KERNEL_SHA256

step "lint: ruff, mypy"
.venv/bin/ruff check .
.venv/bin/mypy gpiocore gpiosim

step "host: the suite on the fake backend, and everything that needs no kernel"
GPIOSIM_NO_BUILD=1 $PY -m pytest -p no:cacheprovider -m "not gpio_sim and not guest" "$@"

step "guest kernel: Linux 6.12 (cold: download, unpack, configure, compile)"
$GPIOSIM guest-kernel

step "host: the tests that boot guests (security, status, signals)"
GPIOSIM_NO_BUILD=1 $PY -m pytest -p no:cacheprovider -m "guest and not gpio_sim" "$@"

# One guest more than cores: a guest is one vCPU, and much of a sim test is its guest's
# CPU, but the state-machine and replay tests mostly wait in real time, which a third
# guest fills (measured on 2 cores, 2026-12-05: 3 guests 261-278 s wall, 2 guests 310 s,
# 1 guest 539 s; no boot failed in 4 runs, and ci/guest-shards.sh boots a failed one again).
shards=${GPIORIG_GUEST_SHARDS:-$(($(nproc) + 1))}
sim_suite=($GPIOSIM guest --timeout 2400 -- \
    $PY -m pytest -p no:cacheprovider --backend=sim -m "gpio_sim or uses_backend" "$@")
step "guest (Linux 6.12): the suite on the sim backend (real gpio-sim), $shards guests"
sharded_t0=$SECONDS
GPIOSIM_NO_BUILD=1 GPIOSIM_REQUIRE=1 bash ci/guest-shards.sh "$shards" "Linux 6.12" "${sim_suite[@]}"
sharded_s=$((SECONDS - sharded_t0))

# The yardstick of the sharding, measured in the same run: the same suite in one guest
# (about 12 minutes). On in CI; GPIORIG_SHARD_COMPARISON=0 skips it, =1 runs it anywhere.
compare=${GPIORIG_SHARD_COMPARISON:-}
[ -z "$compare" ] && [ "${CI:-}" = true ] && compare=1
if [ "$compare" = 1 ]; then
    step "guest (Linux 6.12): the same suite in 1 guest, the sharded run's yardstick"
    single_t0=$SECONDS
    GPIOSIM_NO_BUILD=1 GPIOSIM_REQUIRE=1 bash ci/guest-shards.sh 1 "Linux 6.12, 1 guest" "${sim_suite[@]}"
    single_s=$((SECONDS - single_t0))
    echo "   sim suite wall time: $shards guests $sharded_s s, 1 guest $single_s s:" \
        "$(awk -v a="$sharded_s" -v b="$single_s" 'BEGIN { printf "%.2fx", a / b }')"
fi

step "guest kernel: Linux 6.1 from a source tarball and its sha256"
src=$(mktemp -d /tmp/gpiorig-linux-6.1.XXXXXX)
# (A fresh machine's package lists may be empty: update once if the download fails.)
(cd "$src" && { apt-get download linux-source-6.1 >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get download linux-source-6.1 >/dev/null; }; } \
    && dpkg-deb -x linux-source-6.1_*.deb x)
tarball=$(echo "$src"/x/usr/src/linux-source-6.1.tar.*)
sha=$(sha256sum "$tarball" | cut -d' ' -f1)
kernel61=$($GPIOSIM guest-kernel --source "$tarball" --sha256 "$sha")
rm -rf "$src"

step "guest (Linux 6.1): the fake against the kernel, and the behaviour suite, $shards guests"
GPIOSIM_KERNEL=$kernel61 GPIOSIM_REQUIRE=1 bash ci/guest-shards.sh "$shards" "Linux 6.1" \
    $GPIOSIM guest --timeout 2400 -- \
    $PY -m pytest -p no:cacheprovider --backend=sim -m "gpio_sim or uses_backend" \
    tests/sim/test_fake_vs_sim.py tests/test_behaviour.py "$@"

step "downstream: porch-light against an installed gpiorig (fake on the host, sim in the guest)"
bash ci/downstream.sh

step "benchmarks: quick run"
bash ci/bench.sh --quick

step "done"
