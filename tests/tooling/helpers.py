"""Helpers for the tooling tests: file trees, workers, the CLI, the Docker CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from workers_tooling.cli import main

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def build_file_tree(root: Path, spec: Mapping[str, str | bytes | Mapping[str, Any]]) -> None:
    """Create files under ``root``: ``{relative path: text, bytes or JSON-able mapping}``."""
    for relative, content in spec.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def handlers(topics: Any) -> str:
    """A main.py serving ``topics`` (what discovery reads statically)."""
    lines = ["from camunda_workers import Worker", "", 'worker = Worker(name="w")']
    for topic in topics if isinstance(topics, list) else []:
        lines += ["", "", f"@worker.topic({topic!r})", f"def handle_{abs(hash(topic))}(task):",
                  "    return None"]
    return "\n".join(lines) + "\n"


def worker_files(name: str, port: int, **fields: Any) -> dict[str, Any]:
    """The files of a valid worker ``name`` (``fields`` override worker.json)."""
    spec = {"$schema": "../worker.schema.json", "name": name, "version": "1.0.0",
            "port": port, "topics": [name.replace("-", "_")], **fields}
    return {f"workers/{name}/worker.json": spec,
            f"workers/{name}/main.py": handlers(spec["topics"])}


def make_repo(root: Path, *workers: dict[str, Any], stack: str | None = None,
              seed: bool = True) -> Path:
    """A repository with ``workers`` (from :func:`worker_files`) and a stack file."""
    tree: dict[str, Any] = {"sdk/.keep": "", "workers/.keep": ""}
    for files in workers:
        tree.update(files)
    if stack is not None:
        tree["docker-compose.swarm.yml"] = stack
    if seed:
        tree["deploy/stack.seed.yml"] = (REPO / "deploy/stack.seed.yml").read_text()
    build_file_tree(root, tree)
    return root


def set_workers(repo: Path, *workers: dict[str, Any]) -> None:
    """Replace the workers of ``repo`` by ``workers``."""
    shutil.rmtree(repo / "workers")
    (repo / "workers").mkdir()
    for files in workers:
        build_file_tree(repo, files)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``workers ARGS`` in-process: (exit code, stdout, stderr)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def docker_stack_config(path: Path) -> str:
    """``docker stack config -c PATH`` (offline schema check); fails in CI without docker."""
    docker = shutil.which("docker") or (
        "/usr/local/bin/docker" if Path("/usr/local/bin/docker").exists() else None)
    if docker is None:
        if IN_CI:
            pytest.fail("the docker CLI is needed to validate stack files", pytrace=False)
        pytest.skip("no docker CLI")
    env = {**os.environ, "ENGINE_IMAGE": "local/camunda-engine:test"}
    result = subprocess.run([docker, "stack", "config", "-c", str(path)], capture_output=True,
                            text=True, env=env, timeout=60, check=False)
    assert result.returncode == 0, f"docker stack config failed:\n{result.stderr}"
    return result.stdout


def comments(text: str) -> list[str]:
    """Every comment line, stripped, in order."""
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def blocks(text: str, indent: int = 0) -> dict[str, str]:
    """Split YAML text into the blocks of the keys at ``indent``, each with the comment and
    blank lines just above it; ``""`` is what precedes the first key, ``"~end"`` the rest
    after the last one when it is only comments."""
    lines = text.splitlines(keepends=True)
    result: dict[str, str] = {}
    current = ""
    pending: list[str] = []
    body: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            pending.append(line)
            continue
        width = len(line) - len(line.lstrip(" "))
        if width == indent and not stripped.startswith("-") and ":" in stripped:
            result[current] = "".join(body)
            current = stripped.split(":", 1)[0].strip("'\"")
            body = [*pending, line]
        elif width < indent:
            break
        else:
            body += [*pending, line]
        pending = []
    result[current] = "".join(body)
    result["~end"] = "".join(pending)
    return result


def section(text: str, key: str, indent: int = 0) -> str:
    """The text of one key's block (``blocks`` without the lines above the key)."""
    block = blocks(text, indent)[key]
    lines = block.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip().split(":", 1)[0] == key)
    return "".join(lines[start:])


def services_text(text: str) -> str:
    """The body of the top-level ``services:`` key."""
    return section(text, "services")
