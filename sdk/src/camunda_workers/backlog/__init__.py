"""The backlog exporter: the engine's external tasks per topic and state, for Prometheus.

.. code-block:: sh

    python -m camunda_workers.backlog --topic say_hello --port 9180 --interval 30

Serves ``/metrics`` with ``camunda_external_tasks{topic, state}`` (``open``, ``locked``,
``no_retries``), refreshed every ``--interval`` seconds from the engine's count endpoints
(see ``_collector``). The engine and its credentials come from the same
environment variables as a worker's (``CAMUNDA_URL``, ``CAMUNDA_USER``/``*_FILE``,
``CAMUNDA_TOKEN``/``*_FILE``, ``CAMUNDA_CA_BUNDLE``); ``BACKLOG_TOPICS`` (comma-separated),
``BACKLOG_INTERVAL_SECONDS`` (``BACKLOG_INTERVAL``, its old name, still works, with a
warning) and ``METRICS_PORT`` are the defaults of the options.

Run one per engine (one per stack): its series carry no worker label. Replicas of it
report the same numbers; aggregate them with ``max by (topic, state)``, never ``sum``.
"""

from ._collector import STATES, BacklogCollector, BacklogSnapshot
from ._exporter import DEFAULT_INTERVAL, DEFAULT_PORT, main

__all__ = ["DEFAULT_INTERVAL", "DEFAULT_PORT", "STATES", "BacklogCollector", "BacklogSnapshot",
           "main"]
