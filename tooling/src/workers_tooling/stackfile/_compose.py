"""``workers compose``: keep the worker services of the Swarm stack file up to date.

The stack file (``docker-compose.swarm.yml``) belongs to people. The generator splices
it (:mod:`._splice`): the services of new workers are added, those of removed workers cut
out, the others rewritten only where they differ, and only in the keys the generator owns
(:mod:`._service`). Every other line stays byte for byte. A worker's service is recognised
by the ``camunda-workers.worker: NAME`` label under ``deploy.labels``. Where splicing is
not safe (:class:`~._splice.NeedsRoundTrip`), the whole file goes through ruamel.yaml's
round trip (:mod:`._roundtrip`) and the result says so.

The monitoring services (``monitoring=True``, :mod:`._compose_components`) are spliced
the same way after the worker services, recognised by their own label.

With no stack file yet, it starts from ``deploy/stack.seed.yml``. ``environment="production"``
merges the overlay ``deploy/production.yml`` into the generated services (:mod:`._overlay`);
``output`` writes the result to another file (what ``workers deploy`` deploys) and leaves
the stack file as it is.

A run that changed nothing is remembered (:mod:`._unchanged`): the same run again, on the
same files, answers without reading the YAML or the ``worker.json`` files again.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._atomic import Writer, atomic_write, write_all
from .._gc import without_gc
from ..errors import InputError, ToolingError, WorkerValidationError
from ..project._paths import relative
from ._changes import ServiceChanges
from ._labels import COMPONENT_LABEL
from ._unchanged import recall_unchanged, remember_unchanged, unchanged_key

# The YAML machinery, discovery and the models are imported in compose_stack, after a
# no-change run was looked for (._unchanged): then none of them is needed.
if TYPE_CHECKING:
    from ..project._discovery import DiscoveredWorker
    from ..swarm._image_names import ImageNames
    from ._servicesync import OwnedServices
    from ._splice import Outcome

__all__ = ["SEED_FILE", "STACK_FILE", "ComposeResult", "check_depends_on", "compose_stack",
           "read_stack_text"]

STACK_FILE = "docker-compose.swarm.yml"
SEED_FILE = "deploy/stack.seed.yml"
_BOM = "\ufeff"


@dataclass(frozen=True, kw_only=True)
class ComposeResult(ServiceChanges):
    """What :func:`compose_stack` did (or, with ``check``, would do): the services it
    ``added``, ``updated`` and ``removed``, and the rest below.

    ``diff`` (with ``check`` only) shows what would change; ``method`` is ``"splice"`` or
    ``"round trip"`` (then ``reason`` says why)."""

    stack_file: Path
    workers: tuple[str, ...]
    changed: bool
    written: bool
    seeded: bool
    diff: str
    text: str
    method: str = "splice"
    reason: str = ""
    output: Path | None = None


def read_stack_text(path: Path, source: str) -> str | None:
    """The stack file's text (None if there is none), with clear errors."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise InputError(f"{source}: is a folder; the stack file must be a file") from None
    except OSError as exc:
        raise InputError(f"{source}: cannot read ({exc.strerror}); check its permissions "
                         f"(`ls -l {source}`)") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{source}: not UTF-8 (byte 0x{raw[exc.start]:02x} on line {line}); "
                         "save it as UTF-8 (YAML files are UTF-8)") from None


# The engine service's name in the seed, and in stack files made before it was renamed.
ENGINE_SERVICES = ("camunda", "engine")


def _network_aliases(text: str) -> dict[str, str]:
    """alias -> service, from each service's ``networks: {NET: {aliases: [...]}}``."""
    import yaml

    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return {}  # the splice has read it; nothing to add here
    found: dict[str, str] = {}
    services = data.get("services") if isinstance(data, dict) else None
    for name, service in (services or {}).items():
        networks = service.get("networks") if isinstance(service, dict) else None
        for network in (networks or {}).values() if isinstance(networks, dict) else ():
            aliases = network.get("aliases") if isinstance(network, dict) else None
            for alias in aliases if isinstance(aliases, list) else ():
                found.setdefault(str(alias), str(name))
    return found


def check_depends_on(workers: Sequence[DiscoveredWorker], services: Sequence[str],
                     source: str, text: str) -> None:
    """Every ``depends_on`` entry names a service of the stack (or a network alias of one),
    with a did-you-mean, else the engine service's name."""
    problems = []
    aliases: dict[str, str] | None = None
    for worker in workers:
        for name in worker.spec.depends_on:
            if name in services:
                continue
            if aliases is None:  # read only when a name is not a service
                aliases = _network_aliases(text)
            if name in aliases:
                continue
            close = difflib.get_close_matches(name, [*services, *aliases], n=1, cutoff=0.6)
            engine = next((s for s in ENGINE_SERVICES if s in services), None)
            hint = (f"did you mean {close[0]!r}?" if close
                    else f"services: {', '.join(services) or 'none'}"
                    + (f"; the engine service is {engine!r}" if engine else ""))
            problems.append(f"workers/{worker.path.name}/worker.json: depends_on: {name!r} is "
                            f"not a service of {source}; {hint}")
    if problems:
        raise WorkerValidationError(problems)


@without_gc()
def compose_stack(
    repo: Path,
    *,
    stack_file: Path | None = None,
    seed: Path | None = None,
    registry: str | None = None,
    tag: str | None = None,
    images: ImageNames | None = None,
    environment: str | None = None,
    output: Path | None = None,
    monitoring: bool | None = None,
    publish_monitoring: bool | None = None,
    autoscale: bool | None = None,
    check: bool = False,
    writer: Writer = write_all,
    remember: bool = True,
) -> ComposeResult:
    """Bring the worker services of ``stack_file`` in line with ``workers/*/worker.json``.

    Images are named by ``images`` (default: ``registry``/``tag`` as given, the rest left
    to the deploy, see :class:`~..swarm._image_names.ImageNames`). ``output`` (default: the stack
    file) is where the result goes. ``monitoring`` adds (True) or removes (False) the
    monitoring services (:mod:`..monitoring._services`); None keeps them if the file has them.
    ``publish_monitoring`` publishes Prometheus' port (True) or not (False); None: as the
    file has it (a new monitoring service publishes nothing). ``autoscale`` adds (True,
    with the monitoring services) or removes (False) the autoscaler; None: as the file has it.
    ``check=True`` writes nothing; the result's ``diff`` shows what would change.
    ``remember=False`` composes even when the same run was remembered as changing nothing,
    and keeps nothing (``WORKERS_NO_CACHE=1`` does the same, for every cache).
    """
    stack_file = stack_file or repo / STACK_FILE
    seed = seed or repo / SEED_FILE
    source = relative(stack_file, repo)
    old_text = read_stack_text(stack_file, source)
    arguments = {"seed": str(seed), "registry": registry, "tag": tag,
                 "environment": environment, "monitoring": monitoring,
                 "publish_monitoring": publish_monitoring, "autoscale": autoscale}
    # a superset of what makes wanted_monitoring_services() generate anything
    with_monitoring = bool(monitoring or publish_monitoring or autoscale
                           or (old_text is not None and COMPONENT_LABEL in old_text))
    key = None
    if remember and old_text is not None and output is None and images is None:
        key = unchanged_key(repo, stack_file, old_text, arguments, monitoring=with_monitoring)
        kept = recall_unchanged(repo, key) if key is not None else None
        if kept is not None:
            return ComposeResult(
                stack_file=stack_file, workers=tuple(kept["workers"]), added=(), updated=(),
                removed=(), changed=False, written=False, seeded=False, diff="",
                text=old_text, method=kept["method"], reason=kept["reason"])
    result = _compose(repo, stack_file=stack_file, seed=seed, source=source,
                      old_text=old_text, registry=registry, tag=tag, images=images,
                      environment=environment, output=output, monitoring=monitoring,
                      publish_monitoring=publish_monitoring, autoscale=autoscale,
                      check=check, writer=writer)
    # Only a run that changed nothing is kept, and only if no input changed while it ran
    # (the same run again then gives the same result).
    if key is not None and not result.changed and unchanged_key(
            repo, stack_file, read_stack_text(stack_file, source) or "", arguments,
            monitoring=with_monitoring) == key:
        remember_unchanged(repo, key, {"workers": list(result.workers),
                                       "method": result.method, "reason": result.reason})
    return result


def _compose(repo: Path, *, stack_file: Path, seed: Path, source: str, old_text: str | None,
             registry: str | None, tag: str | None, images: ImageNames | None,
             environment: str | None, output: Path | None, monitoring: bool | None,
             publish_monitoring: bool | None, autoscale: bool | None, check: bool,
             writer: Writer) -> ComposeResult:
    from ..project._discovery import discover_workers
    from ..swarm._image_names import ImageNames
    from ._compose_components import (
        COMPONENT_NETWORKS,
        COMPONENT_VOLUMES,
        MONITORING_SERVICES,
        wanted_monitoring_services,
    )
    from ._overlay import load_overlay
    from ._service import build_service
    from ._servicesync import WORKER_SERVICES

    target = output or stack_file
    images = images or ImageNames(registry=registry, tag=tag)
    workers = discover_workers(repo)
    names = [worker.name for worker in workers]
    common, per_worker = load_overlay(repo, environment, names) if environment else ({}, {})
    start = old_text if old_text is not None else read_stack_text(seed, relative(seed, repo))
    if start is None:
        raise InputError(f"neither {source} nor its seed {relative(seed, repo)} exists; "
                         "restore the seed from git")
    bom = _BOM if start.startswith(_BOM) else ""
    generated: dict[str, dict[str, Any]] = {
        worker.name: build_service(worker, image=images.image(worker.name, worker.spec.version),
                                   overlays=(common, per_worker.get(worker.name, {})))
        for worker in workers}
    secrets = sorted({s for worker in workers for s in worker.spec.secrets})
    start_source = source if old_text is not None else relative(seed, repo)
    outcome, reason = _generate(start[len(bom):], start_source, generated, secrets, WORKER_SERVICES)
    components = wanted_monitoring_services(outcome.text, repo, workers, images=images,
                                            enabled=monitoring, publish=publish_monitoring,
                                            autoscale=autoscale)
    if components is not None:
        more, why = _generate(outcome.text, start_source, components, (), MONITORING_SERVICES,
                              COMPONENT_VOLUMES if components else (),
                              COMPONENT_NETWORKS if components else None)
        outcome = _combine(outcome, more)
        reason = "; ".join(r for r in (reason, why) if r)
    check_depends_on(workers, outcome.services, source, outcome.text)
    text = bom + outcome.text
    before = old_text if output is None else read_stack_text(target, relative(target, repo))
    changed = text != before
    return _finish(repo, stack_file, target, output, before, text, changed, check, writer,
                   outcome, names, reason, seeded=old_text is None)


def _generate(text: str, source: str, generated: dict[str, dict[str, Any]],
              secrets: Sequence[str], owned: OwnedServices, volumes: Sequence[str] = (),
              networks: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[Outcome, str]:
    """Splice one kind of owned services, else round-trip the file; (outcome, why not spliced)."""
    from ._roundtrip import roundtrip
    from ._splice import NeedsRoundTrip, splice

    try:
        try:
            return splice(text, source=source, generated=generated, secrets=secrets,
                          owned=owned, volumes=volumes, networks=networks), ""
        except NeedsRoundTrip as exc:
            return roundtrip(text, source=source, generated=generated, secrets=secrets,
                             owned=owned, volumes=volumes, networks=networks), str(exc)
    except RecursionError:
        raise InputError(f"{source}: nested too deeply to read; a stack file is a few levels "
                         "of keys") from None


def _combine(first: Outcome, then: Outcome) -> Outcome:
    """Two passes over the file (workers, then monitoring services) as one outcome."""
    from ._splice import Outcome

    method = "splice" if first.method == then.method == "splice" else "round trip"
    return Outcome(text=then.text, added=first.added + then.added,
                   updated=first.updated + then.updated, removed=first.removed + then.removed,
                   services=then.services, method=method)


def _finish(repo: Path, stack_file: Path, target: Path, output: Path | None,
            before: str | None, text: str, changed: bool, check: bool, writer: Writer,
            outcome: Outcome, names: list[str], reason: str, *, seeded: bool) -> ComposeResult:
    source = relative(target, repo)
    diff = "".join(difflib.unified_diff(  # only --check shows it: costly on a large file
        (before or "").splitlines(keepends=True), text.splitlines(keepends=True),
        fromfile=f"a/{source}", tofile=f"b/{source}")) if changed and check else ""
    if changed and not check:
        try:
            atomic_write(target, text, writer=writer)
        except OSError as exc:
            raise ToolingError(f"{source}: cannot write ({exc.strerror or exc}); the file is "
                               "unchanged; check the folder's permissions and free space"
                               ) from None
    return ComposeResult(
        stack_file=stack_file, workers=tuple(names), added=outcome.added,
        updated=outcome.updated, removed=outcome.removed, changed=changed,
        written=changed and not check, seeded=seeded, diff=diff, text=text,
        method=outcome.method, reason=reason, output=output)
