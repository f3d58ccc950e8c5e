"""The ``workers`` command: thin Typer commands over the library (``workers --help``).

One module per command family, named as the library's subpackages: ``_project.py``
(list, discover, schema), ``_local.py`` (run, demo), ``_stackfile.py`` (compose),
``_template.py`` (new, update, check-update, adopt, template-version), ``_swarm.py`` (build,
deploy, status, db-upgrade, logs, scale), ``_autoscale.py``, ``_monitoring.py``. Errors
become exit codes and messages in one place (:mod:`._main`, :mod:`._failures`).
"""

from ._main import app, main

__all__ = ["app", "main"]
