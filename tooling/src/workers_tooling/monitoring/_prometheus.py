"""A small client of Prometheus' HTTP API: instant queries, targets and alerts.

Every failure (unreachable, an error answer, a query Prometheus rejects) becomes a
:class:`~workers_tooling.errors.ToolingError` that names the URL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import ToolingError

__all__ = ["PrometheusApi", "Sample"]


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


class PrometheusApi:
    """``PrometheusApi("http://localhost:9090")``; use as a context manager or ``close()``."""

    def __init__(self, url: str, *, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ToolingError(f"--prometheus {url!r}: give an http(s) URL, "
                               "e.g. http://localhost:9090")
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrometheusApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise ToolingError(f"Prometheus at {self.url} does not answer: "
                               f"{type(exc).__name__}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "status" not in body:
            raise ToolingError(f"{self.url}{path}: HTTP {response.status_code}, not the "
                               "Prometheus API (is this Prometheus' URL?)")
        if body["status"] != "success":
            raise ToolingError(f"{self.url}{path}: {body.get('errorType', 'error')}: "
                               f"{body.get('error', '')}")
        return body["data"]

    def query(self, expr: str, *, at: float | None = None) -> list[Sample]:
        """An instant query; each result's labels and value (NaN kept as NaN)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._get("/api/v1/query", params)
        if data.get("resultType") == "scalar":
            return [Sample({}, float(data["result"][1]))]
        if data.get("resultType") != "vector":
            raise ToolingError(f"{expr}: expected an instant vector, got {data.get('resultType')}")
        return [Sample(dict(item["metric"]), float(item["value"][1])) for item in data["result"]]

    def value(self, expr: str, default: float = math.nan) -> float:
        """The single value of a query that returns at most one sample."""
        samples = self.query(expr)
        return samples[0].value if samples else default

    def targets(self) -> list[dict[str, Any]]:
        """The active targets (``labels``, ``health``, ``scrapeUrl``, ``lastError``, ...)."""
        return list(self._get("/api/v1/targets", {"state": "active"})["activeTargets"])

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts (``labels``, ``state``, ``activeAt``, ...)."""
        return list(self._get("/api/v1/alerts")["alerts"])

    def rule_groups(self) -> list[dict[str, Any]]:
        """The loaded rule groups (``name``, ``file``, ``rules``, ...)."""
        return list(self._get("/api/v1/rules")["groups"])
