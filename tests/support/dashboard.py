"""The Grafana dashboard's queries (each panel's, each variable's), evaluated on a real
Prometheus: the monitoring end-to-end test checks the workers' panels, the cluster's
autoscale test the autoscaler's (they need a stack deployed with ``--autoscale``)."""

from __future__ import annotations

import json
import math
import re

from tests.support.engine import REPO
from workers_tooling import PrometheusApi

AUTOSCALER_SERIES = "camunda_autoscaler_"


def dashboard_queries() -> list[tuple[str, str]]:
    """(title, PromQL) of each panel target and each ``label_values`` variable."""
    dashboard = json.loads((REPO / "deploy" / "monitoring" / "dashboard.json").read_text())
    queries = [(panel["title"], target["expr"]) for panel in dashboard["panels"]
               for target in panel["targets"]]
    for variable in dashboard["templating"]["list"]:
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable.get("definition", ""))
        if match:
            queries.append((f"variable {variable['name']}",
                            f"count by ({match[2]}) ({match[1]})"))
    return queries


def without_data(prometheus: PrometheusApi, queries: list[tuple[str, str]],
                 at: float) -> list[str]:
    """The queries with no finite sample at ``at`` (the dashboard's variables as ``.*``)."""
    empty = []
    for title, expr in queries:
        resolved = re.sub(r"\$(stack|worker|topic)", ".*", expr)
        samples = prometheus.query(resolved, at=at)
        if not [s.value for s in samples if math.isfinite(s.value)]:
            empty.append(f"{title}: {resolved}")
    return empty
