"""Every key and value of a worker.json reads back exactly from the stack file, by a YAML
1.1 reader (PyYAML, as Docker's Go loader reads: ``yes``/``on``/``y`` are booleans, U+2028
a line break) and by ruamel.yaml (1.2), on both ways of writing it (the splice and the
whole-file round trip); and ``docker stack config`` reads the YAML 1.1 words as written.

Worker names like ``yes`` or ``on`` are valid (kebab-case) and stay valid: the generator
quotes every key a YAML 1.1 reader would misread (``"yes":``) rather than refusing names.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from workers_tooling import compose_stack
from workers_tooling.errors import InputError
from workers_tooling.stackfile._labels import (
    RESERVED_LABEL_NAMESPACES,
    WORKER_LABEL,
    prometheus_label_name,
)
from workers_tooling.stackfile._service import ENGINE_URL, secret_variable
from workers_tooling.stackfile._service_values import secret_word

from ..helpers import docker_stack_config, make_repo, worker_files

YAML11_WORDS = ["yes", "no", "on", "off", "y", "n", "true", "false", "null", "Yes", "ON",
                "No", "Off", "Y", "N", "NULL", "True", "~"]
TRICKY = ["\u2028", "\u2029", "\x85", "\t", "\n", "\r", "\x00", "\x1b", "\x7f", "\x9f",
          "\ufeff", "\ufffe", " ", "#", ": ", "- ", "'", '"', "\\", "{", "[", "*", "&", "!",
          "%", "@", "`", "|", ">", "?", ",", "0x1f", "1:20", "1_000", ".inf", "2001-01-01",
          "é", "😀", "$$", *YAML11_WORDS]
# What the seed's own services are named: a worker may not take them.
TAKEN = {"engine", "common"}


def _text(max_size: int) -> st.SearchStrategy[str]:
    """Any text (no surrogates: refused by validation), tricky pieces often."""
    piece = st.one_of(st.sampled_from(TRICKY),
                      st.text(st.characters(exclude_categories=("Cs",)), max_size=4))
    # a single `$` would read the deployer's environment: validation refuses it
    return st.lists(piece, max_size=max_size).map("".join).map(
        lambda text: text.replace("$", "$$").replace("$$$$", "$$"))


worker_names = st.one_of(
    st.sampled_from([w for w in YAML11_WORDS if w.islower() and w.isalpha()]),
    st.from_regex(r"[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,3}){0,2}", fullmatch=True),
).filter(lambda name: name not in TAKEN)
env_names = st.one_of(
    st.sampled_from([w for w in YAML11_WORDS if w.isalpha()] + ["Y_FILE", "_1", "E1"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
).filter(lambda name: name not in ("METRICS_PORT", "WORKER_ID") and not secret_word(name))
label_keys = st.one_of(st.sampled_from([*YAML11_WORDS, "1", "0x1f", "1.5", "a: b", "#x"]),
                       _text(4)).filter(
    lambda key: not prometheus_label_name(key).startswith(RESERVED_LABEL_NAMESPACES))
secret_names = st.one_of(
    st.sampled_from([w for w in YAML11_WORDS if w.isalpha()] + ["1", "1.5", "1e3", "0x1f",
                                                                "1_000", "2001-01-01"]),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,6}", fullmatch=True))


@st.composite
def worker_specs(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(worker_names, min_size=1, max_size=3, unique=True))
    return [{"name": name, "port": 8001 + index, "topics": [name.replace("-", "_")],
             "environment": draw(st.dictionaries(env_names, _text(6), max_size=4)),
             "labels": draw(st.dictionaries(label_keys, _text(4), max_size=3)),
             "secrets": draw(st.lists(secret_names, max_size=3, unique=True))}
            for index, name in enumerate(names)]


def expected_environment(spec: dict[str, Any]) -> dict[str, str]:
    return {"CAMUNDA_URL": ENGINE_URL, "METRICS_PORT": str(spec["port"]),
            "WORKER_ID": "{{.Task.Name}}",
            **{secret_variable(s): f"/run/secrets/{s}" for s in spec["secrets"]},
            **spec["environment"]}


def assert_reads_back(text: str, specs: list[dict[str, Any]]) -> None:
    ruamel = YAML(typ="rt")
    for reader, data in (("PyYAML", yaml.safe_load(text)), ("ruamel", ruamel.load(text))):
        services = data["services"]
        assert all(isinstance(key, str) for key in services), (reader, list(services))
        for spec in specs:
            service = services[spec["name"]]
            assert dict(service["environment"]) == expected_environment(spec), reader
            labels = dict(service["deploy"]["labels"])
            assert labels[WORKER_LABEL] == spec["name"], reader
            assert {k: labels.get(k) for k in spec["labels"]} == spec["labels"], reader
            assert list(service.get("secrets") or []) == spec["secrets"], reader
            declared = data.get("secrets") or {}
            assert all(isinstance(key, str) for key in declared), (reader, list(declared))
            assert set(spec["secrets"]) <= set(declared), reader


# Both paths: a block `networks:` is spliced, a flow one makes the generator round-trip.
SEEDS = {"splice": None,
         "round trip": "services:\n  engine:\n    image: x\nnetworks: {other: {}}\n"}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(specs=worker_specs())
@pytest.mark.parametrize("path", list(SEEDS))
def test_every_value_reads_back_exactly(path: str, specs: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        repo = make_repo(Path(folder), *(worker_files(**spec) for spec in specs),
                         stack=SEEDS[path])
        result = compose_stack(repo)
        assert result.method == path
        assert_reads_back(result.text, specs)
        again = compose_stack(repo, check=True)  # what it wrote is what it wants
        assert not again.changed, again.diff


YAML11_WORKERS = [
    {"name": "yes", "port": 8001, "topics": ["yes"],
     "environment": {"ON": "x", "No": "a\u2028b", "V": "c\x85d", "y": "1:20", "NULL": "~"},
     "labels": {"off": "on", "1": "0x1f", "team": "line\nbreak"}, "secrets": ["y", "1.5"]},
    {"name": "on", "port": 8002, "topics": ["on"], "environment": {}, "labels": {},
     "secrets": ["n"]},
]


def test_docker_reads_the_yaml11_words_as_written(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, *(worker_files(**spec) for spec in YAML11_WORKERS))
    compose_stack(repo)
    text = docker_stack_config(repo / "docker-compose.swarm.yml")
    services = yaml.safe_load(text)["services"]
    assert services["yes"]["environment"] | {"CAMUNDA_URL": ENGINE_URL} == (
        expected_environment(YAML11_WORKERS[0]) | {"CAMUNDA_URL": ENGINE_URL})
    assert {k: services["yes"]["deploy"]["labels"][k] for k in ("off", "1", "team")} == (
        YAML11_WORKERS[0]["labels"])
    assert "on" in services


@pytest.mark.parametrize("change", [
    ('  "yes":', "  yes:"), ('"ON":', "ON:"), ('"off": "on"', 'off: "on"'),
    ("\n  \"y\":\n", "\n  y:\n"), ('"a\\Lb"', "'a\u2028b'"), ('"c\\Nd"', '"c\x85d"'),
    ('"a\\Lb"', '"a\u2028\n        b"')])
def test_compose_check_notices_keys_and_values_a_reader_would_alter(
        tmp_path: Path, change: tuple[str, str]) -> None:
    """A file where a YAML 1.1 reader would read a key or a value otherwise (written by an
    earlier generator, or by hand) is stale, and `workers compose` puts it right."""
    repo = make_repo(tmp_path, *(worker_files(**spec) for spec in YAML11_WORKERS))
    good = compose_stack(repo).text
    assert change[0] in good
    stack = repo / "docker-compose.swarm.yml"
    stack.write_text(good.replace(change[0], change[1], 1))
    assert compose_stack(repo, check=True).changed
    compose_stack(repo)
    assert stack.read_text() == good



def test_a_value_only_yaml_12_reads_is_an_error(tmp_path: Path) -> None:
    """A plain value with a raw U+2028 is a line break in the middle of a plain scalar to a
    YAML 1.1 reader (Docker's too): the file cannot be read, and the generator says so."""
    repo = make_repo(tmp_path, *(worker_files(**spec) for spec in YAML11_WORKERS))
    stack = repo / "docker-compose.swarm.yml"
    stack.write_text(compose_stack(repo).text.replace('"a\\Lb"', "a\u2028b", 1))
    with pytest.raises(InputError, match=r"docker-compose.swarm.yml: not valid YAML .*fix "
                                         "it by hand"):
        compose_stack(repo, check=True)
