"""``python -m camunda_workers.backlog``: the exporter as its own process."""

import sys

from ._exporter import main

sys.exit(main())
