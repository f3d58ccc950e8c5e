"""Splicing: every byte outside the worker services stays, in every style of YAML.

What the whole-file round trip used to rewrite in services nobody gave the generator:
``{ A: 1 }`` (to ``{A: 1}``), CRLF line breaks (to LF), a ``...`` document end (dropped),
``~`` (to an empty value), list indentation (normalised). Each case is checked on its
own, and all of them together in ``stacks/styles.yml`` with LF and with CRLF.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from workers_tooling import compose_stack

from ..helpers import docker_stack_config, make_repo, run_cli, set_workers
from ..helpers import worker_files as wf

STACKS = Path(__file__).parent.parent / "stacks"
STACK = "docker-compose.swarm.yml"


def only_insertions(original: str, output: str) -> list[str]:
    """The lines ``output`` adds to ``original``; fails if it changed or removed any."""
    before = original.splitlines(keepends=True)
    after = output.splitlines(keepends=True)
    added: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after,
                                                       autojunk=False).get_opcodes():
        assert tag in ("equal", "insert"), (tag, before[i1:i2], after[j1:j2])
        added += after[j1:j2]
    return added


STEPS = [
    (wf("alpha", 8001, environment={"SMTP_HOST": "${REGISTRY:-localhost}"}),
     wf("beta", 8002, secrets=["camunda_password"])),
    (wf("alpha", 8011, replicas=3), wf("gamma", 8003)),
    (),
]


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_every_style_outside_the_worker_services_stays(tmp_path: Path, newline: str) -> None:
    original = (STACKS / "styles.yml").read_text().replace("\n", newline)
    repo = make_repo(tmp_path, stack=original)
    stack = repo / STACK
    for workers in STEPS:
        set_workers(repo, *workers)
        result = compose_stack(repo)
        assert result.method == "splice", result.reason
        output = stack.read_bytes().decode()
        added = only_insertions(original, output)
        assert all(line.endswith(newline) and not line.endswith("\r\r\n") for line in added)
        assert len(output.splitlines()) == output.count(newline)  # one kind of line break
        if workers:
            assert any(line.startswith("  alpha:") for line in added)
            assert any(line.startswith("secrets:") for line in added)  # declared, then kept
        docker_stack_config(stack)
        assert not compose_stack(repo).changed  # idempotent
    assert stack.read_bytes().decode() == original.replace(  # only the secret declared
        f"...{newline}", f"{newline}secrets:{newline}  camunda_password:{newline}"
        f"    external: true{newline}...{newline}")


CASES = {
    # case: (services owned by nobody in a stack file, text that must survive as it is)
    "flow-mapping": ("  db:\n    image: postgres\n    environment: { A: 1, B: two }\n",
                     "    environment: { A: 1, B: two }\n"),
    "tilde": ("  db:\n    image: postgres\n    environment:\n      TZ: ~\n", "      TZ: ~\n"),
    "document-end": ("  db:\n    image: postgres\n...\n", "...\n"),
    "document-start": ("  db:\n    image: postgres\n", "---\n"),
    "dash-at-key-level": ("  db:\n    image: postgres\n    ports:\n    - \"5432:5432\"\n",
                          "    ports:\n    - \"5432:5432\"\n"),
    "dash-indented-four": ("  db:\n    image: postgres\n    ports:\n        - \"5432:5432\"\n",
                           "    ports:\n        - \"5432:5432\"\n"),
    # two list styles in one file: the round trip wrote both with one indentation
    "mixed-list-indentation": ("  db:\n    image: postgres\n    ports:\n    - \"5432:5432\"\n"
                               "  cache:\n    image: redis\n    ports:\n        - \"6379:6379\"\n",
                               "    ports:\n    - \"5432:5432\"\n  cache:\n    image: redis\n"
                               "    ports:\n        - \"6379:6379\"\n"),
    "single-quotes": ("  db:\n    image: 'postgres'\n", "    image: 'postgres'\n"),
    "anchors-and-merge-keys": ("  db: &db\n    image: postgres\n  db2:\n    <<: *db\n",
                               "  db: &db\n    image: postgres\n  db2:\n    <<: *db\n"),
}


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("case", list(CASES))
def test_each_style_stays(tmp_path: Path, case: str, newline: str) -> None:
    services, kept = CASES[case]
    text = "services:\n" + services
    if case == "document-start":
        text = "---\n" + text
    text += "" if case == "document-end" else "\nnetworks:\n  workers: {}\n"
    if case == "document-end":
        text = text.replace("...\n", "\nnetworks:\n  workers: {}\n...\n")
    text = text.replace("\n", newline)
    repo = make_repo(tmp_path, wf("alpha", 8001), stack=text)
    result = compose_stack(repo)
    assert result.method == "splice", result.reason
    output = (repo / STACK).read_bytes().decode()
    only_insertions(text, output)
    assert kept.replace("\n", newline) in output
    set_workers(repo)
    compose_stack(repo)
    assert (repo / STACK).read_bytes().decode() == text


def test_a_crlf_checkout_is_current(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With git's autocrlf the file arrives with CRLF: `compose --check` still passes."""
    repo = make_repo(tmp_path, wf("alpha", 8001), wf("beta", 8002))
    compose_stack(repo)
    stack = repo / STACK
    stack.write_bytes(stack.read_bytes().replace(b"\n", b"\r\n"))
    code, out, _ = run_cli(capsys, "compose", "--check", "--repo", str(repo))
    assert (code, out.strip()) == (0, f"{stack}: up to date")


def test_a_file_without_a_final_line_break(tmp_path: Path) -> None:
    text = "services:\n  db:\n    image: postgres"
    repo = make_repo(tmp_path, wf("alpha", 8001), stack=text)
    compose_stack(repo)
    output = (repo / STACK).read_text()
    assert output.startswith(text + "\n\n  alpha:\n")
    docker_stack_config(repo / STACK)


def test_a_worker_service_with_a_merge_key_takes_the_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Its own anchors, aliases or merge keys need the whole file: compose says so."""
    text = ("x-defaults: &defaults\n  stop_signal: SIGTERM\nservices:\n  alpha:\n"
            "    <<: *defaults\n    image: old\n    deploy:\n      labels:\n"
            "        camunda-workers.worker: alpha\n")
    repo = make_repo(tmp_path, wf("alpha", 8001), stack=text)
    code, _, err = run_cli(capsys, "compose", "--repo", str(repo))
    assert code == 0
    assert ("note: the worker service 'alpha' uses anchors, aliases or merge keys: ruamel.yaml "
            "rewrote the whole file") in " ".join(err.split())
    data = (repo / STACK).read_text()
    assert "    <<: *defaults\n" in data
    assert compose_stack(repo).method == "round trip"
    docker_stack_config(repo / STACK)


def test_workers_inserted_above_the_first_service_leave_nothing_when_removed(
    tmp_path: Path,
) -> None:
    text = ("services:\n  # this comment stays above whatever comes first\n  delta:\n"
            "    image: x\n    deploy:\n      labels:\n        camunda-workers.worker: delta\n"
            "  engine:\n    image: e\n\nnetworks:\n  workers: {}\n")
    repo = make_repo(tmp_path, wf("delta", 8004), wf("alpha", 8001), wf("bravo", 8002),
                     wf("zulu", 8009), stack=text)
    assert compose_stack(repo).added == ("alpha", "bravo", "zulu")
    output = (repo / STACK).read_text()
    assert output.index("# this comment") < output.index("  alpha:") < output.index("  bravo:")
    assert output.index("  bravo:") < output.index("  delta:") < output.index("  zulu:")
    set_workers(repo)
    compose_stack(repo)
    assert (repo / STACK).read_text() == text.replace(
        "  delta:\n    image: x\n    deploy:\n      labels:\n        camunda-workers.worker: "
        "delta\n", "")
