"""``python -m workers_tooling.cli``: the ``workers`` command."""

import os
import sys

from ._main import main

os.environ.setdefault("PYTHONUNBUFFERED", "1")
sys.exit(main())
