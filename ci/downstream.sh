#!/usr/bin/env bash
# Reuse proven, not claimed: a downstream project (fixtures/downstream, "porch-light")
# installs gpiorig as a user would and runs its own tests with the installed plugin:
#  1. a separate virtual environment, .venv-downstream (DOWNSTREAM_VENV overrides),
#     made from the base interpreter, never from the checkout's .venv; it lives in
#     the project folder because the guest sees that read-write and the rest of the
#     host read-only;
#  2. gpiorig and porch-light built as wheels from clean copies of their sources (no
#     editable install, no stale build/ leftovers) and installed with their test extras;
#     the venv is reused while the sources are unchanged, and made afresh when either
#     pyproject.toml changes (so a dropped dependency cannot linger);
#  3. porch-light's tests on the fake backend on the host, then on the real gpio-sim in
#     the guest, run from the sample's folder so that only the installed packages are
#     importable.
#   ci/downstream.sh [--host] [PYTEST ARGS...]     --host: skip the guest run
# DOWNSTREAM_FRESH=1 rebuilds the venv; PYTHON picks the base interpreter (python3).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SAMPLE=$ROOT/fixtures/downstream
VENV=${DOWNSTREAM_VENV:-$ROOT/.venv-downstream}
guest=1
if [ "${1:-}" = "--host" ]; then guest=0; shift; fi
t0=$SECONDS
step() { echo "== downstream: $* ($((SECONDS - t0)) s)"; }

# Nothing of an activated venv or of the checkout may leak into the proof.
unset VIRTUAL_ENV PYTHONPATH PYTHONHOME
BASE=$("${PYTHON:-python3}" -c 'import sys; print(sys._base_executable)')

# The files a build reads: what git sees (tracked, or new and not ignored), so a new
# module counts and build leftovers do not; without git, every file but caches.
sources() {  # DIR EXCLUDED-PATH...
    local dir=$1
    shift
    (
        cd "$dir"
        if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
            git ls-files -z -co --exclude-standard -- . "${@/#/:!}" \
                | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done
        else
            local skip=()
            for p in "$@"; do skip+=(! -path "./$p/*"); done
            find . -type f ! -path '*/__pycache__/*' ! -path './.git/*' ! -path './.venv*' \
                ! -path '*.egg-info/*' ! -path './build/*' "${skip[@]}" -printf '%P\0'
        fi
    ) | sort -z
}
digest() {  # DIR EXCLUDED-PATH...: one hash of the names and contents
    (cd "$1" && sources "$@" | xargs -0r sha256sum) | sha256sum | cut -d' ' -f1
}
copy() {  # DIR DEST EXCLUDED-PATH...
    local dir=$1 dest=$2
    shift 2
    mkdir -p "$dest"
    # -h: a symlink into an excluded folder (gpiosim/data/guest-kernel.config points
    # into ci/) is copied as the file it names, as an sdist does.
    (cd "$dir" && sources "$dir" "$@" | tar -h --null -T - -cf -) | tar -C "$dest" -xf -
}
# Not part of the gpiorig wheel: its tests, CI and fixtures (the sample among them).
GPIORIG_SKIP=(tests ci fixtures results "$(basename "$VENV")")
SAMPLE_SKIP=(tests)

deps=$(cat "$ROOT/pyproject.toml" "$SAMPLE/pyproject.toml" | sha256sum | cut -d' ' -f1)
srcs=$( (digest "$ROOT" "${GPIORIG_SKIP[@]}"; digest "$SAMPLE" "${SAMPLE_SKIP[@]}") | sha256sum)

step "virtual environment $VENV"
if [ "${DOWNSTREAM_FRESH:-0}" = 1 ] || [ ! -x "$VENV/bin/python" ] \
    || [ "$(cat "$VENV/.downstream-deps" 2>/dev/null)" != "$deps" ]; then
    rm -rf "$VENV"
    "$BASE" -m venv "$VENV"
    echo "   made afresh from $BASE"
fi
if [ "$(cat "$VENV/.downstream-sources" 2>/dev/null)" != "$srcs" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    copy "$ROOT" "$tmp/gpiorig" "${GPIORIG_SKIP[@]}"
    copy "$SAMPLE" "$tmp/porch-light" "${SAMPLE_SKIP[@]}"
    pip=("$VENV/bin/python" -m pip -q --disable-pip-version-check)
    "${pip[@]}" wheel --no-deps -w "$tmp/wheels" "$tmp/gpiorig" "$tmp/porch-light"
    gw=$(echo "$tmp"/wheels/gpiorig-*.whl)
    pw=$(echo "$tmp"/wheels/porch_light-*.whl)
    # Dependencies first; then the two wheels replace whatever version was there.
    "${pip[@]}" install "$gw[test]" "$pw[test]"
    "${pip[@]}" install --force-reinstall --no-deps "$gw" "$pw"
    echo "$deps" >"$VENV/.downstream-deps"
    echo "$srcs" >"$VENV/.downstream-sources"
    echo "   installed $(basename "$gw") and $(basename "$pw")"
else
    echo "   reused: gpiorig and porch-light unchanged since the last install"
fi
# -I: no current folder or PYTHON* variables on sys.path, as under pytest below.
"$VENV/bin/python" -I - "$VENV" <<'EOF'
import sys
from pathlib import Path

import gpiocore
import gpiosim
import porch_light

venv = Path(sys.argv[1]).resolve()
for module in (gpiocore, gpiosim, porch_light):
    where = Path(module.__file__).resolve()
    if venv not in where.parents:
        sys.exit(f"ci/downstream.sh: {module.__name__} comes from {where}, not from {venv}")
EOF

cd "$SAMPLE"
step "host: the installed gpiosim's demo (its programs ship in the wheel)"
"$VENV/bin/gpiosim" demo >/dev/null

step "host: porch-light's tests on the fake backend"
"$VENV/bin/pytest" -p no:cacheprovider --backend=fake --gpio-trace-dir=results/traces "$@"

if [ "$guest" = 1 ]; then
    # The same commands, in the same order, as the CI recipes in fixtures/downstream/ci
    # (tests/test_downstream_ci.py checks that every command there is run here).
    step "guest kernel, as the CI recipes get it (cache key, then build or reuse)"
    missing=$("$VENV/bin/gpiosim" guest-kernel --source apt --missing-packages)
    [ -z "$missing" ] || { echo "ci/downstream.sh: missing packages: $missing" >&2; exit 1; }
    echo "   cache key: $("$VENV/bin/gpiosim" guest-kernel --source apt --cache-key)"
    "$VENV/bin/gpiosim" guest-kernel --source apt
    step "guest: porch-light's tests on the sim backend (real gpio-sim)"
    GPIOSIM_KERNEL_SOURCE=apt GPIOSIM_REQUIRE=1 "$VENV/bin/gpiosim" guest --timeout 1800 -- \
        "$VENV/bin/pytest" -p no:cacheprovider --backend=sim --gpio-trace-dir=results/traces "$@"
fi
step "done"
