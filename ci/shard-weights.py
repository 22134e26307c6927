#!/usr/bin/env python3
"""Turn a pytest ``--durations=0`` report into ci/sim-test-seconds.json (shard weights).

    ci/shard-weights.py LOG [LOG...] > ci/sim-test-seconds.json

Sums each test's setup, call and teardown seconds; with several logs (e.g. one per
shard) every test's time is taken from the log that has it. tests/conftest.py reads the
file to balance ``--shard=I/N``; a test missing from it weighs its file's mean.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

LINE = re.compile(r"^\s*([0-9.]+)s (setup|call|teardown)\s+(\S+::\S.*?)\s*$")


def main(paths: list[str]) -> int:
    """Print the weights JSON for the logs at ``paths``."""
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    seconds: dict[str, float] = {}
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
            match = LINE.match(line.rstrip("\r"))
            if match:
                secs, _phase, nodeid = match.groups()
                seconds[nodeid] = seconds.get(nodeid, 0.0) + float(secs)
    if not seconds:
        print(
            f"no --durations=0 lines in {', '.join(paths)}: run pytest with "
            "--durations=0 (and -vv to list the short ones)",
            file=sys.stderr,
        )
        return 1
    rounded = {k: round(v, 2) for k, v in sorted(seconds.items())}
    print(json.dumps(rounded, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
