#!/usr/bin/env bash
# Run one pytest command as N qemu guests at once, each on its own part of the tests.
#   ci/guest-shards.sh N LABEL CMD [ARG...]
# runs `CMD ARG... --shard=I/N` for I = 1..N in parallel (tests/conftest.py splits the
# selected tests into N disjoint parts, balanced by ci/sim-test-seconds.json), so CMD
# must end with pytest's arguments. A guest stays on 1 vCPU (on 2, gpio-sim may merge
# near-simultaneous pull writes into one edge): more guests is how the suite uses more
# cores. Each shard's output is kept apart and printed whole once all have ended, under
# a header naming the shard; then a table of per-shard and total wall times.
# Fails if any shard fails, and if any shard ran no tests (pytest's exit status 5).
# N=1 runs the command as it is, with its output live.
set -uo pipefail

if [ $# -lt 3 ] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 N LABEL CMD [ARG...]   (N >= 1 guests, each with --shard=I/N)" >&2
    exit 2
fi
n=$1
label=$2
shift 2

# Microseconds since the epoch (bash 5's clock: no bc or date process needed).
now_us() { echo "${EPOCHREALTIME/[.,]/}"; }
t0=$(now_us)
if [ "$n" = 1 ]; then
    "$@"
    rc=$?
    printf '[%s] 1 guest: %d s wall, exit %d\n' "$label" $((($(now_us) - t0) / 1000000)) "$rc"
    exit "$rc"
fi

dir=$(mktemp -d /tmp/gpiorig-shards.XXXXXX)
pids=()
# Stop every shard (and so its qemu, which dies with its parent) if this script is stopped.
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM

for i in $(seq 1 "$n"); do
    (
        start=$(now_us)
        # In the background and waited for, so that a TERM from this script's exit
        # reaches the shard's gpiosim (and through it, its qemu).
        child=
        trap 'kill "$child" 2>/dev/null; exit 143' TERM
        for attempt in 1 2; do
            "$@" "--shard=$i/$n" >"$dir/$i.log" 2>&1 &
            child=$!
            wait "$child"
            rc=$?
            # 125 before pytest started: the guest itself failed (e.g. a TCG boot that
            # panics in the IO-APIC timer check on an overloaded host): boot it again once.
            [ "$rc" = 125 ] && ! grep -q "test session starts" "$dir/$i.log" || break
            [ "$attempt" = 1 ] && cp "$dir/$i.log" "$dir/$i.boot-failure.log"
        done
        echo "$rc $((($(now_us) - start) / 1000000))" >"$dir/$i.status"
    ) &
    pids+=($!)
done
echo "[$label] $n guests started (one shard each); their output follows when all have ended"
wait "${pids[@]}"
pids=()
total=$((($(now_us) - t0) / 1000000))

failed=0
summary=()
for i in $(seq 1 "$n"); do
    read -r rc secs <"$dir/$i.status" 2>/dev/null || { rc=125 secs=0; }
    # pytest's last line: "== 70 passed, 2 skipped in 231.02s (0:03:51) ==" (no == with -q)
    result=$(grep -E '(passed|failed|errors?|skipped|deselected|no tests ran).* in [0-9.]+s' "$dir/$i.log" \
        | tail -n 1 | sed -E 's/^=+ //; s/ =+$//')
    why=
    if [ "$rc" = 5 ]; then
        why="  <- ran no tests: every shard must get some (fewer shards, or more tests)"
    elif [ "$rc" != 0 ]; then
        why="  <- FAILED"
    fi
    [ "$rc" = 0 ] || failed=1
    echo
    echo "---------- [$label] shard $i/$n: exit $rc, $secs s ----------"
    if [ -e "$dir/$i.boot-failure.log" ]; then
        echo "(its first guest failed to boot and was started again; that guest said:)"
        head -n 3 "$dir/$i.boot-failure.log"
        echo "(...)"
    fi
    cat "$dir/$i.log"
    summary+=("$(printf '[%s] shard %d/%d: %5d s wall, exit %d: %s%s' \
        "$label" "$i" "$n" "$secs" "$rc" "${result:-no pytest summary}" "$why")")
done
echo
printf '%s\n' "${summary[@]}"
printf '[%s] %d guests in parallel: %d s wall in total\n' "$label" "$n" "$total"
exit "$failed"
