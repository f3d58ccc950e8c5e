"""The answers a worker is made with: checked before Copier runs, and kept in its answers file.

The bounds of the fields that end up in ``worker.json`` are those of the model discovery
reads it with (:class:`~workers_tooling.ServiceSpec`, the SDK's ``WorkerSpec`` plus the
Swarm sections): :data:`NewWorkerAnswers` is built from its fields, so an answer is
accepted exactly when ``worker.json`` would be (copier.yml's validators are tested field
by field against the same model). On top come the rules of rendering and of the
repository: topics listed once, a description that is one line of text (it goes into
``main.py``'s docstring), a name that is not a reserved folder of ``workers/`` nor a
non-worker service of the stack file, and a port and topics no other worker uses.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, create_model, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from camunda_workers import SpecError, validate_model

from .._atomic import atomic_write
from ..stackfile._compose import STACK_FILE
from ..project._discovery import SKIPPED_FOLDERS
from ..stackfile._labels import WORKER_LABEL
from ..project._service_spec import ServiceSpec
from ..errors import ToolingError

__all__ = [
    "ANSWERS_FILE",
    "FIRST_PORT",
    "RESERVED_NAMES",
    "SPEC_FIELDS",
    "NewWorkerAnswers",
    "answer_problems",
    "next_free_port",
    "read_answers",
    "record_version",
]

ANSWERS_FILE = ".copier-answers.yml"
FIRST_PORT = 8001
# Folders of workers/ that are not workers (discovery skips them): no worker may take one.
RESERVED_NAMES = SKIPPED_FOLDERS
# The questions of copier.yml that are fields of worker.json, validated by its model's rules.
SPEC_FIELDS = ("name", "description", "port", "topics", "depends_on", "max_tasks",
               "lock_duration", "replicas")
# main.py's handler API (copier.yml's `api` choices): ours, or that of
# camunda-external-task-client-python3 run by camunda_workers.compat.
HandlerApi = Literal["native", "py3"]
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class _RenderingRules(BaseModel):
    """Rules of the answers beyond worker.json's: what the template renders must run."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("topics", check_fields=False)
    @classmethod
    def _listed_once(cls, topics: list[str]) -> list[str]:
        twice = sorted({topic for topic in topics if topics.count(topic) > 1})
        if twice:
            raise ValueError(f"{', '.join(map(repr, twice))} listed more than once; "
                             "list each topic once")
        return topics

    @field_validator("description", check_fields=False)
    @classmethod
    def _one_line(cls, description: str) -> str:
        if _CONTROL.search(description):
            raise ValueError("must be one line of text without control characters "
                             "(it becomes main.py's docstring and the README's first line)")
        return description

    @field_validator("name", check_fields=False)
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_NAMES:
            raise ValueError(f"{name!r} is reserved: workers/{name} holds shared code, not a "
                             "worker; pick another name")
        return name


# worker.json's own annotation and FieldInfo (bounds, validators, defaults) for each field.
_spec_fields: dict[str, Any] = {name: (ServiceSpec.model_fields[name].annotation,
                                       ServiceSpec.model_fields[name]) for name in SPEC_FIELDS}
NewWorkerAnswers: type[BaseModel] = create_model(
    "NewWorkerAnswers",
    __base__=_RenderingRules,
    __doc__="The questions of copier.yml, validated before Copier runs (all problems at once).",
    custom_dockerfile=(bool, False),
    api=(HandlerApi, "native"),
    **_spec_fields,
)


def _worker_specs(repo: Path) -> dict[str, dict[str, Any]]:
    """Folder name -> worker.json contents, for the folders that have a readable one."""
    specs: dict[str, dict[str, Any]] = {}
    for spec_file in sorted((repo / "workers").glob("*/worker.json")):
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(spec_file.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                specs[spec_file.parent.name] = data
    return specs


def _used_ports(repo: Path) -> dict[int, str]:
    used: dict[int, str] = {}
    for folder, spec in _worker_specs(repo).items():
        if isinstance(spec.get("port"), int):
            used.setdefault(spec["port"], folder)
    return used


def next_free_port(repo: Path, start: int = FIRST_PORT) -> int:
    """The lowest port from ``start`` up that no ``workers/*/worker.json`` uses."""
    used = _used_ports(repo)
    port = start
    while port in used:
        port += 1
    return port


def _stack_services(repo: Path) -> set[str]:
    """Services of the stack file that are not worker services, and their network aliases
    (these names are taken)."""
    try:
        data = YAML(typ="safe").load((repo / STACK_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError):
        return set()  # no stack file yet, or one `workers compose` will complain about
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict):
        return set()
    taken = set()
    for key, service in services.items():
        deploy = service.get("deploy") if isinstance(service, dict) else None
        labels = deploy.get("labels") if isinstance(deploy, dict) else None
        if not (WORKER_LABEL in (labels or {}) if isinstance(labels, dict) else
                any(str(label).startswith(f"{WORKER_LABEL}=") for label in labels or [])):
            taken.add(str(key))
            # its network aliases answer on the overlay too (the engine's `engine`)
            networks = service.get("networks") if isinstance(service, dict) else None
            for network in networks.values() if isinstance(networks, dict) else ():
                aliases = network.get("aliases") if isinstance(network, dict) else None
                taken.update(str(a) for a in (aliases if isinstance(aliases, list) else ()))
    return taken


def answer_problems(repo: Path, answers: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every problem of ``answers`` for a new worker in ``repo`` (empty when it can be made)."""
    problems: list[tuple[str, str]] = []
    try:
        validate_model(NewWorkerAnswers, answers, source="answers")
    except SpecError as exc:
        problems.extend(exc.problems)
    name, port, topics = answers.get("name"), answers.get("port"), answers.get("topics")
    if not isinstance(name, str) or name in RESERVED_NAMES:
        pass  # the model said why
    elif (repo / "workers" / name).exists():
        problems.append(("name", f"workers/{name} already exists; pick another name"))
    elif name in _stack_services(repo):
        problems.append(("name", f"{name!r} is a service of {STACK_FILE} that is not a worker; "
                                 "pick another name"))
    owner = _used_ports(repo).get(port) if isinstance(port, int) else None
    if owner is not None:
        problems.append(("port", f"{port} is taken by workers/{owner}; the next free one is "
                                 f"{next_free_port(repo)}"))
    if isinstance(topics, list):
        served = {topic: folder for folder, spec in _worker_specs(repo).items()
                  for topic in spec.get("topics") or [] if isinstance(topic, str)}
        for index, topic in enumerate(topics):
            if topic in served:
                problems.append((f"topics.{index}", f"{topic!r} is served by "
                                 f"workers/{served[topic]}; a topic has one worker (list it in "
                                 "both workers' shared_topics afterwards if they share it)"))
    return problems


def repository_facts(repo: Path) -> dict[str, Any]:
    """What copier.yml's validators check an interactive answer against, passed as data
    (``repo_*``, never recorded): the names, ports and topics other workers have."""
    specs = _worker_specs(repo)
    folders = {p.name for p in (repo / "workers").iterdir() if p.is_dir()} if (
        repo / "workers").is_dir() else set()
    return {
        "repo_taken_names": sorted(folders | _stack_services(repo)),
        "repo_taken_ports": {str(port): folder for port, folder in _used_ports(repo).items()},
        "repo_served_topics": {topic: folder for folder, spec in specs.items()
                               for topic in spec.get("topics") or [] if isinstance(topic, str)},
        "repo_next_free_port": next_free_port(repo),
    }


def read_answers(folder: Path) -> dict[str, Any]:
    """A worker's ``.copier-answers.yml`` as a mapping; clear errors when it is unreadable."""
    path = folder / ANSWERS_FILE
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError) as exc:
        raise ToolingError(f"workers/{folder.name}/{ANSWERS_FILE}: cannot be read ({exc}); "
                           "restore it from git") from None
    if not isinstance(data, dict):
        raise ToolingError(f"workers/{folder.name}/{ANSWERS_FILE}: expected a mapping of "
                           "answers; restore it from git")
    return data


def record_version(folder: Path, version: str) -> None:
    """Set ``_commit: VERSION`` in the answers file, keeping every other line as it is."""
    path = folder / ANSWERS_FILE
    text = path.read_text(encoding="utf-8")
    line = f"_commit: {version}\n"
    if re.search(r"^_commit:.*$", text, flags=re.MULTILINE):
        updated = re.sub(r"^_commit:.*\n?", line, text, count=1, flags=re.MULTILINE)
    else:  # before the first answer, after the header comments
        match = re.search(r"^[^#\n]", text, flags=re.MULTILINE)
        at = match.start() if match else len(text)
        updated = text[:at] + line + text[at:]
    atomic_write(path, updated)
