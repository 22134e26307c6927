"""``python -m gpiosim``: the ``gpiosim`` command line (see :mod:`gpiosim._cli`)."""

from __future__ import annotations

import sys

from gpiosim._cli import main

if __name__ == "__main__":
    sys.exit(main())
