"""What several of the pi tests share: rig-file text, a lock holder, inner pytest options.
"""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_rig(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rig.toml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


BENCH = """
[rig]
board = "pi4"

[signals.button]
line = "GPIO17"
role = "input"

[signals.led]
line = "GPIO18"
role = "output"

[jumpers.button]
stimulus = "GPIO5"

[jumpers.led]
probe = "GPIO6"
"""


HOLDER = """
import sys, time
from pathlib import Path
from gpiosim.pi import RigLock
lock = RigLock(sys.argv[1], lock_dir=Path(sys.argv[2])).acquire()
print("locked", flush=True)
time.sleep(60)
"""


# Inner sessions without hypothesis's plugin: it imports hypothesis at the end of a run,
# which pytester unloads again after each run, and each import costs half a minute of
# assertion rewriting in the guest.
INNER = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
