"""Round trip: hand-written stack files keep everything the generator does not own.

Each stack file of ``stacks/`` goes through three generations: workers added (and a
stale worker service removed), workers changed/removed/added, all workers removed. After
each one the parts nobody gave the generator are compared with the original, text for
text, and ``docker stack config`` must accept the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from workers_tooling import compose_stack

from ..helpers import REPO, blocks, comments, docker_stack_config, make_repo, section, set_workers
from ..helpers import worker_files as wf

STACKS = Path(__file__).parent.parent / "stacks"
SECRET_DECLARATION = "  camunda_password:\n    external: true\n"
DB_SECRET = "    name: ${DB_PASSWORD_SECRET:-camunda-workers_db_password}\n"


@dataclass
class Corpus:
    text: str
    indent: int = 2                      # of the services
    worker_services: tuple[str, ...] = ()  # generated services the file already has
    dropped_comments: tuple[str, ...] = ()  # comments on keys the generator removes
    new_sections: tuple[str, ...] = ()   # top-level keys the generator declares
    # the original without its worker services: what remains when every worker is gone
    without_workers: str = ""
    hand_keys: dict[str, object] = field(default_factory=dict)  # alpha's keys kept


def _cut(text: str, start: str, end: str) -> str:
    """``text`` without the lines from the one starting with ``start`` to the one before
    the line starting with ``end``."""
    lines = text.splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.startswith(start))
    last = next(i for i in range(first + 1, len(lines)) if lines[i].startswith(end))
    return "".join(lines[:first] + lines[last:])


def _corpora() -> dict[str, Corpus]:
    rich = (STACKS / "rich.yml").read_text()
    first = (STACKS / "worker_first.yml").read_text()
    four = (STACKS / "four_space.yml").read_text()
    minimal = (STACKS / "minimal.yml").read_text()
    seed = (REPO / "deploy/stack.seed.yml").read_text()
    return {
        "rich": Corpus(
            rich, worker_services=("alpha", "old-worker"), new_sections=(),
            without_workers=_cut(rich, "  alpha:", "  # after old-worker").replace(
                "    external: true   # created by hand\n",
                "    external: true   # created by hand\n" + SECRET_DECLARATION),
            hand_keys={"labels": {"team": "payments"}, "mode": "replicated",
                       "volumes": [{"type": "tmpfs", "target": "/tmp"}],
                       "EXTRA_HAND": "kept", "logging": {"driver": "json-file",
                                                         "options": {"max-size": "10m",
                                                                     "max-file": "3"}}}),
        "worker-first": Corpus(
            first, worker_services=("alpha",), new_sections=("secrets",),
            dropped_comments=("# Swarm ignores build: the generator removes it",),
            without_workers=_cut(first, "  alpha:", "  # the engine") + "\nsecrets:\n"
            + SECRET_DECLARATION),
        "four-space": Corpus(
            four, indent=4, new_sections=("secrets",),
            without_workers=four + "\nsecrets:\n    camunda_password:\n        external: true\n"),
        "minimal": Corpus(
            minimal, new_sections=("networks", "secrets"),
            without_workers=minimal + "\nnetworks:\n  workers:\n    driver: overlay\n"
            "    attachable: true\n\nsecrets:\n" + SECRET_DECLARATION),
        "seed": Corpus(
            seed,
            # after the seed's own secret, the database password
            without_workers=seed.replace(DB_SECRET, DB_SECRET + SECRET_DECLARATION, 1)),
    }


CORPORA = _corpora()

STEPS: list[tuple[tuple[dict[str, object], ...], set[str]]] = [
    # workers, and the names of the worker services expected afterwards
    ((wf("alpha", 8001, environment={"SMTP_HOST": "${REGISTRY:-localhost}", "FLAG": "on"}),
      wf("beta", 8002, secrets=["camunda_password"])), {"alpha", "beta"}),
    ((wf("alpha", 8011, replicas=3), wf("gamma", 8003)), {"alpha", "gamma"}),
    ((), set()),
]


def _services(text: str, indent: int) -> dict[str, str]:
    """Each service's text from its key line on (the comments above it are checked apart:
    those above a removed service end up above the next one)."""
    body = "".join(section(text, "services").splitlines(keepends=True)[1:])
    return {name: _from_key(block) for name, block in blocks(body, indent).items()}


def _from_key(block: str) -> str:
    lines = block.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines)
                  if line.strip() and not line.strip().startswith("#")), len(lines))
    return "".join(lines[start:])


def _load(text: str) -> dict[str, object]:
    data = YAML(typ="safe").load(text)
    assert isinstance(data, dict)
    return data


def _check_unmanaged(original: str, output: str, corpus: Corpus, workers: set[str]) -> None:
    before, after = blocks(original), blocks(output)
    for key, text in before.items():
        if key == "services":
            continue
        got = after.get(key, "")
        if key == "secrets":  # the one declaration the generator adds
            got = got.replace(SECRET_DECLARATION, "", 1)
        assert got == text, f"top-level {key!r} changed"
    assert set(after) == set(before) | set(corpus.new_sections)
    old_services = _services(original, corpus.indent)
    new_services = _services(output, corpus.indent)
    generated = {*corpus.worker_services, *workers}
    for name, text in old_services.items():
        if name not in generated and name not in ("", "~end"):
            assert new_services.get(name) == text, f"service {name!r} changed"
    assert set(new_services) - {"", "~end"} == (
        set(old_services) - {"", "~end"} - set(corpus.worker_services)) | workers
    gone = [c for name in corpus.worker_services if name not in workers
            for c in comments(old_services[name])]  # inside removed worker services
    expected = [c for c in comments(original) if c not in (*corpus.dropped_comments, *gone)]
    assert comments(output) == expected


@pytest.mark.parametrize("name", list(CORPORA))
def test_round_trip(name: str, tmp_path: Path) -> None:
    corpus = CORPORA[name]
    repo = make_repo(tmp_path, stack=corpus.text)
    stack = repo / "docker-compose.swarm.yml"
    for workers, services in STEPS:
        set_workers(repo, *workers)
        result = compose_stack(repo)
        output = stack.read_text()
        assert result.text == output
        # rich's alpha uses a merge key itself: the one corpus that needs the whole file
        assert result.method == ("round trip" if name == "rich" and "alpha" in output
                                 else "splice"), result.reason
        _check_unmanaged(corpus.text, output, corpus, services)
        docker_stack_config(stack)
        data = _load(output)
        labelled = {key for key, service in data["services"].items()  # type: ignore[attr-defined]
                    if "camunda-workers.worker" in str(service.get("deploy", {}))}
        assert labelled == services
        if "alpha" in services and corpus.hand_keys:
            alpha = data["services"]["alpha"]  # type: ignore[index]
            assert alpha["labels"] == corpus.hand_keys["labels"]
            assert alpha["deploy"]["mode"] == corpus.hand_keys["mode"]
            assert alpha["volumes"] == corpus.hand_keys["volumes"]
            assert alpha["environment"]["EXTRA_HAND"] == corpus.hand_keys["EXTRA_HAND"]
            assert alpha["environment"]["TZ"] == "UTC"  # from a merge key in environment
            assert alpha["logging"] == corpus.hand_keys["logging"]  # from the merge key
            for comment in ("# hand-added variable", "# a hand comment before labels",
                            "# hand key in deploy", "# hand volume"):
                assert comment in section(output, "services")
        again = compose_stack(repo)
        assert not again.changed
        assert stack.read_text() == output  # idempotent, byte for byte
    if corpus.without_workers:
        assert stack.read_text() == corpus.without_workers


def test_adding_then_removing_workers_restores_the_file(tmp_path: Path) -> None:
    """Workers without secrets leave nothing behind: the same bytes as before."""
    for corpus in ("four-space", "seed", "rich"):
        original = CORPORA[corpus].text
        repo = make_repo(tmp_path / corpus, wf("zeta", 8009), wf("aaa", 8010), stack=original)
        compose_stack(repo)
        set_workers(repo)
        compose_stack(repo)
        text = (repo / "docker-compose.swarm.yml").read_text()
        if corpus == "rich":  # its own worker services are gone too
            original = _cut(original, "  alpha:", "  # after old-worker")
        assert text == original, corpus
