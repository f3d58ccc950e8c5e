"""``python -m workers_tooling.autoscale``: the stack's autoscaler service (:mod:`._main`)."""

import sys

from ._main import main

sys.exit(main())
