#!/usr/bin/env bash
# Flake check (not part of every CI run): the state-machine tests on the real gpio-sim,
# ROUNDS times in a row (default 20), in ONE guest, one fresh pytest process per round.
#   bash ci/flake.sh [ROUNDS] [PYTEST ARGS...]     e.g. bash ci/flake.sh 5 -x
# Each round gets its own hypothesis database, so a failure found in one round is not
# replayed by the next: every round is an independent sample. Prints one line per
# round, the failing rounds' output, and "flake check: P/N rounds passed"; exits 1 if
# any round failed. Logs: results/flake/round-N.log.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-20}
shift || true
case $ROUNDS in '' | *[!0-9]*) echo "ci/flake.sh: ROUNDS must be a number, not '$ROUNDS'" >&2; exit 2 ;; esac
PY=.venv/bin/python
[ -x "$PY" ] || bash ci/setup.sh
bash ci/build-guest-kernel.sh > /dev/null
mkdir -p results/flake
rm -f results/flake/round-*.log

# The loop runs inside the guest. The script is fixed text; the round count, the
# interpreter and the pytest arguments reach it as positional parameters, never as code.
LOOP='
rounds=$1 py=$2; shift 2
passed=0
for i in $(seq 1 "$rounds"); do
    log=results/flake/round-$i.log
    start=$(date +%s)
    if HYPOTHESIS_STORAGE_DIRECTORY=/tmp/flake-hypothesis-$i GPIOSIM_REQUIRE=1 \
        "$py" -m pytest -p no:cacheprovider --backend=sim -q tests/test_state_machine.py "$@" \
        > "$log" 2>&1; then
        passed=$((passed + 1)); verdict=pass
    else
        verdict=FAIL
    fi
    echo "round $i/$rounds: $verdict ($(( $(date +%s) - start )) s) $(tail -n 1 "$log")"
    if [ "$verdict" = FAIL ]; then sed "s/^/    /" "$log" | tail -n 60; fi
done
echo "flake check: $passed/$rounds rounds passed"
[ "$passed" -eq "$rounds" ]
'
exec "$PY" -m gpiosim guest --timeout $((ROUNDS * 600 + 120)) -- \
    /bin/bash -c "$LOOP" flake "$ROUNDS" "$PY" "$@"
