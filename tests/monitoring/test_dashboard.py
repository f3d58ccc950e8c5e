"""deploy/monitoring/dashboard.json, offline: its structure and the series its queries name.

That every query returns data is checked against a live Prometheus in
tests/deploy/test_monitoring_e2e.py.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from ruamel.yaml import YAML

from camunda_workers._client import EngineClient
from camunda_workers._metrics import WorkerMetrics
from camunda_workers._settings import resolve_settings
from camunda_workers.backlog import BacklogCollector
from tests.support.engine import REPO
from workers_tooling.autoscale import AutoscalerMetrics

MONITORING = REPO / "deploy" / "monitoring"


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((MONITORING / "dashboard.json").read_text())
    return data


def _exported_series() -> set[str]:
    """Every series name a worker, the backlog exporter and the autoscaler serve."""
    registry = CollectorRegistry()
    metrics = WorkerMetrics(worker="w", version="1", engine_url="http://e", registry=registry)
    metrics.running(max_tasks=1, lock_durations={"t": 1000}, alive=lambda: True)
    metrics.task_handled("t", "completed")
    metrics.handler_ran("t", "completed", 0.1)
    asyncio.run(_refresh_once(registry))  # nothing answers: the error series are served too
    AutoscalerMetrics(registry=registry).observed("w", load=5, current=0, desired=1)
    text = generate_latest(registry).decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines()
            if line and not line.startswith("#")} | {"up", "camunda_external_tasks"}


async def _refresh_once(registry: CollectorRegistry) -> None:
    settings = resolve_settings({"name": "t", "base_url": "http://127.0.0.1:1/engine-rest"},
                                environ={})
    async with EngineClient.for_settings(settings) as engine:
        await BacklogCollector(engine, topics=["t"], registry=registry).refresh()


def _recorded() -> set[str]:
    data = YAML(typ="safe").load((MONITORING / "rules" / "recording.yml").read_text())
    return {rule["record"] for group in data["groups"] for rule in group["rules"]}


def test_structure_and_datasource() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] == "camunda-workers"
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert {"stack", "worker", "topic"} <= set(variables)


def test_queries_name_only_series_that_exist() -> None:
    """A typo in a metric name would make a panel silently empty."""
    known = _exported_series() | _recorded()
    dashboard = _dashboard()
    expressions = [target["expr"] for panel in dashboard["panels"]
                   for target in panel["targets"]]
    expressions += [v["definition"] for v in dashboard["templating"]["list"]
                    if v.get("definition")]
    for expr in expressions:
        for name in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr):
            assert name in known, f"{name} in {expr!r} is neither exported nor recorded"
    # and the panels cover what the issue lists
    titles = " / ".join(panel["title"].lower() for panel in dashboard["panels"])
    for topic in ("throughput", "outcomes", "latency", "max_tasks", "backlog",
                  "engine errors", "replicas", "autoscaler: replicas vs load"):
        assert topic in titles
