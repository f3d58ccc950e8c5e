"""The alert and recording rules, checked and unit-tested with promtool (Prometheus 2.42)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.support.engine import IN_CI, REPO

MONITORING = REPO / "deploy" / "monitoring"
RULE_FILES = sorted((MONITORING / "rules").glob("*.yml"))
TEST_FILES = sorted((MONITORING / "tests").glob("*.test.yml"))


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = "promtool not found: apt-get install prometheus"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def _run(*command: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def test_config_and_rules_are_valid(promtool: str) -> None:
    done = _run(promtool, "check", "config", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 2 rule files found" in done.stdout
    done = _run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_unit_tests_pass(promtool: str) -> None:
    done = _run(promtool, "test", "rules", *map(str, TEST_FILES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(TEST_FILES)


def _alerts() -> list[dict[str, Any]]:
    data = YAML(typ="safe").load((MONITORING / "rules" / "alerts.yml").read_text())
    return [rule for group in data["groups"] for rule in group["rules"] if "alert" in rule]


def test_every_alert_has_a_case_that_fires_and_one_that_stays_quiet() -> None:
    cases: dict[str, list[bool]] = {}
    for path in TEST_FILES:
        for test in YAML(typ="safe").load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                cases.setdefault(case["alertname"], []).append(bool(case["exp_alerts"]))
    for rule in _alerts():
        seen = cases.get(rule["alert"], [])
        assert True in seen, f"{rule['alert']}: no test where it fires"
        assert False in seen, f"{rule['alert']}: no test where it stays quiet"


@pytest.mark.parametrize("alert", [rule["alert"] for rule in _alerts()])
def test_the_unit_tests_notice_an_alert_that_never_or_always_fires(
    alert: str, promtool: str, tmp_path: Path,
) -> None:
    """Mutations: the alert's expression replaced by one that never / always fires."""
    shutil.copytree(MONITORING / "tests", tmp_path / "tests")
    (tmp_path / "rules").mkdir()
    shutil.copy(MONITORING / "rules" / "recording.yml", tmp_path / "rules")
    yaml = YAML()
    original = yaml.load((MONITORING / "rules" / "alerts.yml").read_text())
    for mutant in ("vector(1) == 0", "vector(1)"):
        for group in original["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == alert:
                    rule["expr"] = mutant
        with (tmp_path / "rules" / "alerts.yml").open("w") as out:
            yaml.dump(original, out)
        done = _run(promtool, "test", "rules", *[str(tmp_path / "tests" / p.name)
                                                 for p in TEST_FILES], cwd=tmp_path)
        assert done.returncode != 0, f"{alert} as `{mutant}` still passes the unit tests"
        assert f"alertname: {alert}," in done.stdout + done.stderr, done.stderr
