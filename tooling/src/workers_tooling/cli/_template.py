"""``workers new``, ``update``, ``check-update``, ``adopt``, ``template-version``: the Copier
template (:mod:`..template`)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import ToolingError
from ._app import app, say, warn
from ._options import (
    FROM_CWD,
    AllWorkersOption,
    RepoOption,
    WorkerNameArgument,
    WorkerNamesArgument,
)


def next_steps(name: str) -> list[str]:
    """What to type after `workers new NAME` (and `make new-worker`)."""
    return ["Next:",
            f"  workers run {name} --reload                 # run it against the local engine",
            f"  (cd workers/{name} && ../../.venv/bin/pytest -q)  # its own tests",
            "  workers deploy --env local                  # the stack on the local Swarm"]


VersionOption = Annotated[str | None, typer.Option(
    "--vcs-ref", "--version", help="Template version, e.g. v0.3.0 (default: the latest).")]
TrustOption = Annotated[bool, typer.Option(
    "--trust", help="Let a template other than this repository's run its tasks, migrations "
                    "and Jinja extensions (code, run as you): check it first.")]


@app.command()
def new(
    name: Annotated[str | None, typer.Argument(help="Worker name, kebab-case.")] = None,
    topic: Annotated[list[str] | None, typer.Option(help="Topic it serves (repeat).")] = None,
    port: Annotated[int | None, typer.Option(help="Metrics port (default: next free).")] = None,
    description: Annotated[str | None, typer.Option(help="One line about it.")] = None,
    max_tasks: Annotated[int | None, typer.Option(help="Handlers in flight.")] = None,
    lock_duration: Annotated[int | None, typer.Option(help="Lock per task, ms.")] = None,
    replicas: Annotated[int | None, typer.Option(help="Swarm replicas.")] = None,
    dockerfile: Annotated[bool, typer.Option("--dockerfile", help="Own Dockerfile.")] = False,
    api: Annotated[str | None, typer.Option(
        help="Handler API: native (default) or py3 (handlers written for "
             "camunda-external-task-client-python3, run by camunda_workers.compat).")] = None,
    interactive: Annotated[bool, typer.Option("--interactive", "-i",
                                              help="Ask every question.")] = False,
    template: Annotated[str | None, typer.Option(
        help="Template path or git URL (default: this repository).")] = None,
    vcs_ref: VersionOption = None,
    trust: TrustOption = False,
    repo: RepoOption = FROM_CWD,
) -> None:
    """Create workers/NAME from the Copier template (its latest version, recorded)."""
    from ..template._answers import read_answers
    given = {"name": name, "topics": topic or None, "port": port, "description": description,
             "max_tasks": max_tasks, "lock_duration": lock_duration, "replicas": replicas,
             "custom_dockerfile": dockerfile or None, "api": api}
    answers = {key: value for key, value in given.items() if value is not None}
    if not interactive and ("name" not in answers or "topics" not in answers):
        raise ToolingError("give NAME and at least one --topic, or use --interactive")
    from ..template._scaffold import new_worker  # Copier loads slowly: only for these commands

    folder = new_worker(repo, answers=answers, template=template,
                        vcs_ref=vcs_ref, interactive=interactive, trust=trust, warn=warn)
    version = read_answers(folder).get("_commit")
    say(f"[green]created[/] {folder} (template {version})", highlight=False)
    for line in next_steps(folder.name):
        say(line, highlight=False, markup=False)


@app.command()
def update(
    names: WorkerNamesArgument = None,
    all_workers: AllWorkersOption = False,
    vcs_ref: VersionOption = None,
    trust: TrustOption = False,
    repo: RepoOption = FROM_CWD,
) -> None:
    """Re-apply the template (3-way merge) and report per worker; exit 1 on conflicts.

    A worker whose answers file names a template other than this repository's stops the
    update if that template runs code (tasks, migrations), unless --trust."""
    from ..template._scaffold import WorkerTemplate, update_workers

    def announce(worker: WorkerTemplate, target: str) -> None:
        say(f"updating {worker.name} ({worker.recorded} -> {target}) from "
            f"{worker.origin()}", highlight=False, markup=False)

    results = update_workers(repo, None if all_workers else names,
                             vcs_ref=vcs_ref, trust=trust, warn=warn, announce=announce)
    for result in results:
        change = f"{result.from_commit} -> {result.to_commit}"
        if result.status == "conflicts":
            say(f"[red]conflicts[/] {result.name} ({change}): "
                f"{', '.join(result.conflicts)}", highlight=False)
        elif result.status == "updated":
            say(f"[green]updated[/] {result.name} ({change})", highlight=False)
        else:
            say(f"current {result.name} ({result.to_commit})", highlight=False)
    if any(result.status == "conflicts" for result in results):
        raise typer.Exit(1)


@app.command("check-update")
def check_update(
    names: WorkerNamesArgument = None,
    repo: RepoOption = FROM_CWD,
) -> None:
    """Say which workers are behind the template, and which answers a worker.json no longer
    agrees with (a hand-edited port: the README still shows the answer); exit 1 if any."""
    from ..template._scaffold import check_updates

    checks = check_updates(repo, names, warn=warn)
    for check in checks:
        if check.source is not None:
            warn(f"workers/{check.name}/.copier-answers.yml: _src_path is {check.source!r} "
                  "(not this repository's template); `workers update` runs its tasks and "
                  "migrations only with --trust")
        if check.behind:
            say(f"[yellow]behind[/] {check.name}: {check.current} -> {check.latest}",
                highlight=False)
        else:
            say(f"current {check.name}: {check.current}", highlight=False)
        for drift in check.drift:
            say(f"differs {drift.message()}", highlight=False, markup=False)
    if any(check.behind or check.drift for check in checks):
        raise typer.Exit(1)


@app.command()
def adopt(
    name: WorkerNameArgument,
    version: Annotated[str | None, typer.Argument(
        help="Template version its files came from (default: the closest one).")] = None,
    trust: TrustOption = False,
    repo: RepoOption = FROM_CWD,
) -> None:
    """Record the template version a worker was made from (when its answers file names one
    the template does not have, e.g. after a squash); then commit it and `workers update`.

    Only the version is recorded: answers that worker.json disagrees with (a hand-edited
    port) stay, and `workers check-update` names them with the fix."""
    from ..template._adopt import adopt_worker

    result = adopt_worker(repo, name, version, trust=trust, warn=warn)
    for tag, lines in result.distances.items():
        say(f"  {tag}: {lines} line(s) differ from workers/{name}", highlight=False)
    say(f"[green]recorded[/] {result.version} in workers/{name}/.copier-answers.yml "
        f"(was {result.previous or 'nothing'})", highlight=False)
    then = ("it is current" if result.version == result.latest else
            f"then `workers update {name}` brings {result.latest}")
    say(f"commit it; {then}", highlight=False)


@app.command("template-version")
def template_version(
    check: Annotated[bool, typer.Option(
        "--check", help="Exit 1 if a release step is missing (CHANGELOG entry, version bump).")
    ] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Print only tags created or moved, and problems.")] = False,
    repo: RepoOption = FROM_CWD,
) -> None:
    """Print the template version (copier.yml) and the vX.Y.Z tags derived from the history
    (creating or moving the ones that are missing or stale)."""
    from ..template._tags import sync_template_tags
    from ..template._versions import VERSION_KEY
    versions = sync_template_tags(repo)
    if not quiet:
        say(f"template version {versions.current} (copier.yml {VERSION_KEY})",
            highlight=False)
    for tag in versions.tags:
        if not quiet or tag.state != "present":
            say(f"  {tag.name}  {tag.commit[:12]}  {tag.state}", highlight=False)
    for message in versions.warnings:
        warn(message)
    for message in versions.release_problems:
        warn(message)
    if check and versions.release_problems:
        raise typer.Exit(1)
