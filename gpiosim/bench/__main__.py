"""``python -m gpiosim.bench``: the ``gpiosim bench`` command (see ``_command``)."""

import sys

from gpiosim.bench._command import main

sys.exit(main())
