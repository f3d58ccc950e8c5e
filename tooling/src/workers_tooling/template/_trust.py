"""Which templates may run code on this machine: this repository's own, or one trusted.

A Copier template can run commands as the user who renders it: ``_tasks`` after a copy or
an update, ``_migrations`` on an update that crosses their version, and ``_jinja_extensions``
(Python imported into the renderer). This repository's own template (the ``copier.yml`` at
its root) is trusted: its code is reviewed with the rest of the repository. Any other
source (another path, a URL, an answers file whose ``_src_path`` names something else) runs
such code only when the user says ``--trust``; without it the command stops before Copier
runs, naming the source and the fix. Copier's own check (``unsafe=False``) stays as the
last guard: it refuses an unsafe template whatever this module concluded.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ._source import TemplateSource
from ..git import run_git
from ..errors import ToolingError, UntrustedTemplate

__all__ = ["UntrustedTemplate", "code_it_runs", "is_own_template", "untrusted_message"]

# Keys of copier.yml whose values run code; `_migrations` only on an update.
_CODE_KEYS = {"_tasks": "tasks", "_jinja_extensions": "Jinja extensions",
              "_migrations": "migrations"}
_CONFIG_NAMES = ("copier.yml", "copier.yaml")


def is_own_template(source: TemplateSource, repo: Path) -> bool:
    """Is ``source`` this repository's own template (the copier.yml at its root)?"""
    return source.local is not None and source.local.resolve() == repo.resolve()


class _AnyTagLoader(yaml.SafeLoader):
    """Reads copier.yml with its tags (``!include``) as plain values."""


def _any_tag(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_AnyTagLoader.add_multi_constructor("!", _any_tag)


def _configs(source: TemplateSource, refs: Sequence[str]) -> dict[str, str | None]:
    """copier.yml of ``source`` at each ref (None where it has none), read with git alone:
    a URL is fetched into a scratch repository first (fetching runs nothing of it)."""
    with tempfile.TemporaryDirectory(prefix="workers-template-") as scratch:
        where = source.local
        if where is None:
            where = Path(scratch)
            url = source.location.removeprefix("git+")
            run_git(where, "init", "-q", "--bare")
            done = run_git(where, "fetch", "-q", "--no-tags", "--", url,
                           *(f"refs/tags/{ref}:refs/tags/{ref}" for ref in refs), timeout=120)
            if done.returncode != 0:
                error = " ".join(done.stderr.decode(errors="replace").split())
                raise UntrustedTemplate(f"the template {source.location} cannot be read to "
                                        f"see whether it runs code: {error}")
        configs: dict[str, str | None] = {}
        for ref in refs:
            configs[ref] = None
            for name in _CONFIG_NAMES:
                done = run_git(where, "show", f"{ref}:{name}")
                if done.returncode == 0:
                    configs[ref] = done.stdout.decode("utf-8", errors="replace")
                    break
        return configs


def code_it_runs(source: TemplateSource, refs: Sequence[str], *, update: bool) -> list[str]:
    """What in ``source`` at ``refs`` would run code: ``tasks``, ``Jinja extensions``,
    ``migrations`` (on an ``update``); a copier.yml that includes other files, or that
    cannot be read, may run anything."""
    found: list[str] = []
    for ref, text in _configs(source, refs).items():
        if text is None:
            continue
        if "!include" in text:
            return [f"whatever its copier.yml includes at {ref}"]
        try:
            config = yaml.load(text, Loader=_AnyTagLoader)  # a SafeLoader
        except yaml.YAMLError:
            return [f"whatever its copier.yml holds (unreadable at {ref})"]
        if not isinstance(config, dict):
            continue
        for key, what in _CODE_KEYS.items():
            if config.get(key) and (update or key != "_migrations") and what not in found:
                found.append(what)
    return found


def untrusted_message(where: str, source: str, runs: Sequence[str], *, update: bool,
                      fix: str) -> str:
    """The one line that says why a command stopped and how to go on."""
    return (f"{where} is {source!r} (not this repository's template); it runs code on "
            f"{'update' if update else 'copy'} ({', '.join(runs)}): check it, then {fix}")
