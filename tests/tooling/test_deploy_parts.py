"""What a deploy and a scale do to files, without a Swarm: the rendered file, the image
names, the replicas written back (the end-to-end test does the same on a real Swarm)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from workers_tooling import compose_stack
from workers_tooling.project._jsonedit import set_member
from workers_tooling.swarm._deploy import deploy_environment, rendered_file
from workers_tooling.swarm._image_names import ImageNames

from .helpers import REPO, build_file_tree, docker_stack_config, make_repo, run_cli, worker_files

STACK = "docker-compose.swarm.yml"


def test_an_environment_is_rendered_beside_the_stack_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    repo = make_repo(tmp_path, worker_files("alpha", 8001))
    build_file_tree(repo, {"deploy/production.yml": (REPO / "deploy/production.yml").read_text()})
    assert run_cli(capsys, "compose", "--repo", str(repo))[0] == 0
    committed = (repo / STACK).read_bytes()
    rendered = rendered_file(repo / STACK, "camunda-workers")
    assert rendered == repo / ".docker-compose.swarm.camunda-workers.deploy.yml"
    result = compose_stack(repo, environment="production", output=rendered)
    assert (result.written, result.output) == (True, rendered)
    assert "LOG_FORMAT: json" in rendered.read_text()
    assert (repo / STACK).read_bytes() == committed
    code, out, _ = run_cli(capsys, "compose", "--check", "--repo", str(repo))
    assert (code, out.strip()) == (0, f"{repo / STACK}: up to date")  # make check-compose
    assert not compose_stack(repo, environment="production", output=rendered).changed
    docker_stack_config(rendered)


def test_one_name_for_every_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGISTRY", raising=False)
    monkeypatch.delenv("TAG", raising=False)
    stack_file = ImageNames()
    assert stack_file.image("alpha", "1.2.0") == "${REGISTRY:-local}/workers-alpha:${TAG:-1.2.0}"
    default = ImageNames().resolve()
    assert default.image("alpha", "1.2.0") == "local/workers-alpha:1.2.0"
    assert default.tags("1.2.0", "abc1234") == ("1.2.0", "latest", "abc1234")
    monkeypatch.setenv("REGISTRY", "registry.example:5000/team/")
    monkeypatch.setenv("TAG", "v2")
    from_env = ImageNames().resolve()
    assert from_env.image("alpha", "1.2.0") == "registry.example:5000/team/workers-alpha:v2"
    assert from_env.tags("1.2.0", None) == ("v2", "latest")
    given = ImageNames(registry="r.example", tag="v3").resolve()
    assert given.image("alpha", "1.2.0") == "r.example/workers-alpha:v3"
    environ = deploy_environment(given)  # what docker stack deploy fills ${...} with
    assert (environ["REGISTRY"], environ["TAG"]) == ("r.example", "v3")
    assert "TAG" not in deploy_environment(ImageNames(registry="x").resolve({}))


@pytest.mark.parametrize(("text", "expected"), [
    ('{\n  "name": "a",\n  "replicas": 1,\n  "labels": {"replicas": "5"}\n}\n',
     '{\n  "name": "a",\n  "replicas": 7,\n  "labels": {"replicas": "5"}\n}\n'),
    ('{"name": "a", "note": "\\"replicas\\": 1", "replicas":2}',
     '{"name": "a", "note": "\\"replicas\\": 1", "replicas":7}'),
    ('{\r\n    "name": "a",\r\n    "port": 8001\r\n}\r\n',
     '{\r\n    "name": "a",\r\n    "port": 8001,\r\n    "replicas": 7\r\n}\r\n'),
    ('{"name": "a"}', '{"name": "a", "replicas": 7}'),
])
def test_replicas_are_written_into_worker_json_in_place(text: str, expected: str) -> None:
    assert set_member(text, "replicas", 7) == expected
    assert json.loads(expected)["replicas"] == 7


def test_scale_refuses_what_worker_json_would_refuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Checked before anything is scaled or written (no Docker needed to see it)."""
    repo = make_repo(tmp_path, worker_files("alpha", 8001))
    before = (repo / "workers/alpha/worker.json").read_bytes()
    code, _, err = run_cli(capsys, "scale", "alpha=5000", "--repo", str(repo))
    assert code == 2
    assert ("workers/alpha/worker.json: replicas: 5000 is not allowed (Input should be less "
            "than or equal to 1000)") in " ".join(err.split())
    assert (repo / "workers/alpha/worker.json").read_bytes() == before
    code, _, err = run_cli(capsys, "scale", "alpha", "--repo", str(repo))
    assert code == 2
    assert "'alpha': expected NAME=N, e.g. hello-world=3" in err


def test_images_without_git_get_no_commit_tag(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from workers_tooling.swarm._image_names import git_commit

    assert git_commit(REPO)[0]  # this checkout has commits
    assert git_commit(tmp_path) == (None, f"{tmp_path} is not a git checkout with commits: "
                                          "no commit tag")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert git_commit(REPO) == (None, "git is not installed (apt-get install git): no commit tag")


def test_images_of_uncommitted_code_are_tagged_dirty(tmp_path: Path) -> None:
    from workers_tooling.swarm._image_names import git_commit

    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    (tmp_path / "main.py").write_text("print(1)\n")
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "one"]):
        subprocess.run(["git", "-C", str(tmp_path), *command], check=True, env=env)
    commit, _ = git_commit(tmp_path)
    assert commit is not None
    assert not commit.endswith("-dirty")
    (tmp_path / "main.py").write_text("print(2)\n")
    assert git_commit(tmp_path) == (f"{commit}-dirty", "")


def test_make_setup_puts_workers_on_the_path_of_an_activated_shell() -> None:
    """The README's first screen: `. .venv/bin/activate` and `workers` is found."""
    done = subprocess.run(["bash", "-c", ". .venv/bin/activate && command -v workers"],
                          cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(REPO / ".venv" / "bin" / "workers")


def test_secret_names_are_read_as_the_deploy_fills_them() -> None:
    """The stack's database secret is ${DB_PASSWORD_SECRET:-camunda-workers_db_password}:
    the check before the deploy looks for the name the deploy will use."""
    from workers_tooling.stackfile._stack_variables import interpolate

    name = "${DB_PASSWORD_SECRET:-camunda-workers_db_password}"
    assert interpolate(name, {}) == "camunda-workers_db_password"
    assert interpolate(name, {"DB_PASSWORD_SECRET": "s_db"}) == "s_db"
    assert interpolate("${A-x}/${B}", {"A": ""}) == "/"


@pytest.mark.parametrize("labels", [
    {"camunda-workers.worker": "alpha", "team": "x"},
    ["team=x", "camunda-workers.worker=alpha"],
])
def test_deploy_finds_the_worker_services_whichever_way_their_labels_are_written(
        labels: object) -> None:
    """Compose accepts deploy.labels as a mapping or as a `- key=value` list; deploy read
    only the first (labels are now read in one place, stackfile/_labels.py)."""
    from workers_tooling.swarm._deploy import _labelled_services

    services = {"alpha": {"image": "local/workers-alpha:1", "deploy": {"labels": labels}},
                "db": {"image": "postgres", "deploy": {"labels": ["team=x"]}}}
    assert list(_labelled_services(services, "camunda-workers.worker")) == ["alpha"]
