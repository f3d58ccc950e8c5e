"""What a worker.json may not put into the stack: labels Prometheus reads as the tooling's,
variables of the deployer's environment, secrets in plain sight, lone surrogates; and the
environment `docker stack deploy` runs with."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from camunda_workers import SpecError, validate_model
from workers_tooling.project._discovery import discover_workers
from workers_tooling.project._service_spec import ServiceSpec
from workers_tooling.stackfile._stack_variables import STACK_VARIABLES, references
from workers_tooling.swarm._deploy import deploy_environment
from workers_tooling.swarm._image_names import ImageNames

from ..helpers import IN_CI, REPO, make_repo, run_cli, worker_files

SOURCE = "workers/gamma/worker.json"


def problems(**fields: Any) -> list[tuple[str, str]]:
    """The problems of a worker.json with ``fields`` (empty: it is valid)."""
    spec = {"name": "gamma", "port": 8003, "topics": ["gamma"], **fields}
    try:
        validate_model(ServiceSpec, spec, source=SOURCE)
    except SpecError as exc:
        return list(exc.problems)
    return []


# Labels that collide with the tooling's once Prometheus turns [^a-zA-Z0-9_] into _.
@pytest.mark.parametrize(("key", "seen_as"), [
    ("prometheus_port", "prometheus_port"), ("prometheus-job", "prometheus_job"),
    ("camunda_workers.worker", "camunda_workers_worker"),
    ("prometheus_scrape", "prometheus_scrape"), ("camunda-workers/x", "camunda_workers_x"),
    ("prometheus.port", "prometheus_port")])
def test_labels_prometheus_reads_as_the_toolings_are_refused(key: str, seen_as: str) -> None:
    [(path, message)] = problems(labels={key: "1", "team": "payments"})
    assert path == f"labels.{key}"
    assert message.startswith(f"Prometheus reads this label as {seen_as} (every character "
                              "outside [a-zA-Z0-9_] becomes _)")
    assert message.endswith(f"rename it, e.g. 'app.{key}'")


@pytest.mark.parametrize("key", ["team", "app.prometheus_port", "prometheusport", "camunda"])
def test_other_labels_pass(key: str) -> None:
    assert problems(labels={key: "x"}) == []


@pytest.mark.parametrize(("value", "names"), [
    ("plain", []), ("a$$b", []), ("$$HOME", []), ("$TAG", ["TAG"]), ("${TAG}", ["TAG"]),
    ("${TAG:-1}", ["TAG"]), ("${TAG-1}", ["TAG"]), ("${TAG:?set it}", ["TAG"]),
    ("${TAG?x}", ["TAG"]), ("x${REGISTRY:-${HOME}}y", ["REGISTRY", "HOME"]),
    ("$a_b-c", ["a_b"]), ("${A:-{b}", ["A"]), ("$TAG$HOME", ["TAG", "HOME"]),
])
def test_the_variables_docker_stack_deploy_reads(value: str, names: list[str]) -> None:
    assert references(value) == names


@pytest.mark.parametrize("value", ["5$", "$", "${", "${1}", "${TAG", "${TAG:-x", "$-", "${TAG%x}",
                                   "${TAG:+x}", "${TAG+x}"])
def test_a_dollar_docker_refuses_is_refused(value: str) -> None:
    [(path, message)] = problems(environment={"X": value})
    assert path == "environment.X"
    assert "docker stack deploy refuses it; write $$ for a literal '$'" in message


@pytest.mark.parametrize(("field", "value"), [
    ("environment", {"X": "${GITHUB_TOKEN}"}), ("environment", {"X": "a-$HOME"}),
    ("environment", {"X": "${TAG:-${AWS_SECRET_ACCESS_KEY}}"}), ("labels", {"team": "${USER}"}),
    ("placement", {"constraints": ["node.labels.zone == ${ZONE}"]}),
    ("placement", {"preferences": [{"spread": "node.labels.${ZONE}"}]}),
])
def test_other_variables_of_the_deployers_environment_are_refused(field: str,
                                                                   value: Any) -> None:
    [(path, message)] = problems(**{field: value})
    assert path.startswith(field)
    assert (f"a worker.json may read only {', '.join(STACK_VARIABLES)} (add a variable to "
            "STACK_VARIABLES in tooling/src/workers_tooling/stackfile/_stack_variables.py to "
            "allow it), or write $$ for a literal '$'") in message


def test_the_stacks_own_variables_are_allowed() -> None:
    assert problems(environment={"ENGINE": "${CAMUNDA_URL:-http://engine:8080/engine-rest}",
                                 "IMAGE": "$REGISTRY/x:${TAG}", "PRICE": "5$$"},
                    labels={"image.tag": "${TAG:-dev}"},
                    placement={"constraints": ["node.labels.tag == ${TAG}"]}) == []


@pytest.mark.parametrize(("name", "word"), [
    ("CAMUNDA_PASSWORD", "PASSWORD"), ("PGPASSWORD", "PASSWORD"), ("GITHUB_TOKEN", "TOKEN"),
    ("client_secret", "SECRET"), ("API_KEY", "KEY"), ("APIKEY", "KEY"),
    ("AWS_SECRET_ACCESS_KEY", "SECRET"), ("SSH_KEYS", "KEYS")])
def test_a_variable_named_like_a_secret_holds_no_value(name: str, word: str) -> None:
    for value in ("hunter2", "${TAG}"):  # an interpolated one still lands in inspect
        [(path, message)] = problems(environment={name: value})
        secret = name.lower()
        assert path == f"environment.{name}"
        assert message == (
            f"looks like a secret (its name has {word}), and a value here would be in git, in "
            "the stack file and in `docker service inspect`: put it in a Docker secret "
            f"(`docker secret create {secret} -`), list {secret!r} in \"secrets\" (the worker "
            f"reads it from /run/secrets/{secret}, {name.upper()}_FILE points there) and "
            "remove it here")


@pytest.mark.parametrize("name", ["CAMUNDA_PASSWORD_FILE", "TOKEN_URL", "OAUTH_TOKEN_URI",
                                  "SSH_KEY_PATH", "AWS_ACCESS_KEY_ID", "KEYCLOAK_REALM",
                                  "KEYBOARD", "SECRETS_DIR"])
def test_names_that_hold_no_secret_pass(name: str) -> None:
    assert problems(environment={name: "/run/secrets/x"}) == []
    assert problems(environment={"API_TOKEN": ""}) == []  # empty: nothing to leak


def test_the_example_workers_pass() -> None:
    assert {worker.name for worker in discover_workers(REPO)} >= {"hello-world", "publicacao"}


def test_lone_surrogates_are_refused_naming_the_field(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path, worker_files("gamma", 8003))
    spec = repo / "workers/gamma/worker.json"
    data = json.loads(spec.read_text())
    data.update(description="a\ud800b", environment={"K\udc00": "v", "L": "\udfff"})
    spec.write_text(json.dumps(data))  # ASCII with \\ud800 escapes, as an editor may write
    code, out, err = run_cli(capsys, "discover", "--repo", str(repo))
    assert code == 2
    lines = err.splitlines()
    shown = "an escape without its pair that no file can hold; write the character itself, " \
            "or both halves of its pair"
    assert (f"workers/gamma/worker.json: description: the value 'a\\ud800b' has a lone "
            f"surrogate (\\uD800 at character 1), {shown}") in lines
    assert (f"workers/gamma/worker.json: environment: the key 'K\\udc00' has a lone "
            f"surrogate (\\uDC00 at character 1), {shown}") in lines
    assert (f"workers/gamma/worker.json: environment.L: the value '\\udfff' has a lone "
            f"surrogate (\\uDFFF at character 0), {shown}") in lines
    assert "Traceback" not in out + err


def test_docker_stack_deploy_sees_only_the_stacks_variables(tmp_path: Path) -> None:
    """The environment `workers deploy` gives `docker stack deploy`, through the real
    docker CLI's interpolation (`docker stack config`, no daemon needed)."""
    docker = shutil.which("docker")
    if docker is None:
        if IN_CI:
            pytest.fail("the docker CLI is needed", pytrace=False)
        pytest.skip("no docker CLI")
    operator = {**os.environ, "GITHUB_TOKEN": "s3cret-token", "CAMUNDA_URL": "http://e/x",
                "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    environ = deploy_environment(ImageNames(registry="r.example", tag="v3").resolve({}),
                                 operator)
    assert "GITHUB_TOKEN" not in environ
    assert (environ["REGISTRY"], environ["TAG"], environ["CAMUNDA_URL"]) == (
        "r.example", "v3", "http://e/x")
    assert environ["PATH"] == os.environ["PATH"]
    assert environ["DOCKER_CONFIG"] == operator["DOCKER_CONFIG"]
    stack = tmp_path / "stack.yml"
    stack.write_text('version: "3.8"\nservices:\n  x:\n    image: ${REGISTRY}/x:${TAG}\n'
                     "    environment:\n      LEAK: ${GITHUB_TOKEN:-not-here}\n"
                     "      URL: ${CAMUNDA_URL}\n")
    done = subprocess.run([docker, "stack", "config", "-c", str(stack)], env=environ,
                          capture_output=True, text=True, timeout=60, check=True)
    assert "s3cret-token" not in done.stdout
    assert "LEAK: not-here" in done.stdout
    assert "image: r.example/x:v3" in done.stdout
    assert "URL: http://e/x" in done.stdout


def _strings(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [s for value in data.values() for s in _strings(value)]
    if isinstance(data, list):
        return [s for value in data for s in _strings(value)]
    return [data] if isinstance(data, str) else []


def test_the_allowed_variables_are_those_the_project_reads(tmp_path: Path) -> None:
    """STACK_VARIABLES is the set the project's own stack reads: the seed, the committed
    stack file and the overlays as written, and what the generator writes (monitoring with
    its port published, and the autoscaler, for a copy whose hello-world has a policy)."""
    import yaml

    from tests.support.docker import copy_repo
    from workers_tooling import compose_stack

    rendered = tmp_path / "stack.yml"
    compose_stack(REPO, output=rendered, monitoring=True, publish_monitoring=True)
    repo = copy_repo(tmp_path / "repo")
    spec = repo / "workers" / "hello-world" / "worker.json"
    spec.write_text(json.dumps({**json.loads(spec.read_text()), "autoscale": {}}))
    autoscaled = tmp_path / "autoscaled.yml"
    compose_stack(repo, output=autoscaled, monitoring=True, autoscale=True)
    files = [rendered, autoscaled, REPO / "docker-compose.swarm.yml",
             *(REPO / "deploy").glob("*.yml")]
    read = {name for path in files for value in _strings(yaml.safe_load(path.read_text()))
            for name in references(value)}
    assert read == set(STACK_VARIABLES)


ACCEPTED = ["a$$b", "$TAG", "${TAG}", "${TAG:-1}", "${TAG-1}", "${TAG:?x}", "${TAG?x}", "x$TAG-y"]
REFUSED = ["5$", "$", "${", "${1}", "${TAG", "${TAG:-x", "$-", "${TAG%x}", "${TAG:+x}", "${TAG+x}"]


def test_the_rule_reads_dollars_as_the_docker_cli_does(tmp_path: Path) -> None:
    """What the validation accepts, `docker stack config` (the same interpolation as
    `docker stack deploy`) accepts, and what it refuses as a form, docker refuses."""
    docker = shutil.which("docker")
    if docker is None:
        if IN_CI:
            pytest.fail("the docker CLI is needed", pytrace=False)
        pytest.skip("no docker CLI")
    stack = tmp_path / "stack.yml"
    for value in ACCEPTED + REFUSED:
        stack.write_text('version: "3.8"\nservices:\n  x:\n    image: x\n    environment:\n'
                         f"      V: {json.dumps(value)}\n")
        done = subprocess.run([docker, "stack", "config", "-c", str(stack)], capture_output=True,
                              text=True, timeout=60, env={**os.environ, "TAG": "t"})
        assert (done.returncode == 0) == (value in ACCEPTED), (value, done.stderr)
        assert (problems(environment={"V": value}) == []) == (value in ACCEPTED), value


@pytest.mark.parametrize(("value", "expected"), [
    ("${DB_PASSWORD_SECRET:-camunda-workers_db_password}", "camunda-workers_db_password"),
    ("${TAG:-1}", "v3"), ("${EMPTY:-d}", "d"), ("${EMPTY-d}", ""), ("${UNSET-d}", "d"),
    ("a$$b", "a$b"), ("x$TAG-y", "xv3-y"), ("${UNSET:-${TAG}z}", "v3z"), ("plain", "plain"),
    ("${UNSET}", ""), ("${TAG:?x}", "v3"),
])
def test_values_are_filled_in_as_docker_stack_deploy_fills_them(value: str,
                                                                 expected: str) -> None:
    """What deploy checks before it runs (the names of external secrets) is read the way
    the deploy will read it."""
    from workers_tooling.stackfile._stack_variables import interpolate

    assert interpolate(value, {"TAG": "v3", "EMPTY": ""}) == expected
