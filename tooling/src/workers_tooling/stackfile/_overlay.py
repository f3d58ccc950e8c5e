"""Per-environment overlays: ``deploy/ENV.yml`` merged into the generated worker services.

.. code-block:: yaml

    all:                       # every worker service
      environment: {LOG_FORMAT: json}
    workers:
      hello-world:             # one worker
        deploy: {replicas: 3, resources: {limits: {memory: 512M}}}

Only keys the generator writes may appear (:data:`OVERLAY_KEYS`, inside ``deploy`` the
``DEPLOY_KEYS``): anything else belongs in the stack file itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ..errors import InputError, ToolingError
from ..project._discovery import relative
from ._service import DEPLOY_KEYS

__all__ = ["OVERLAY_KEYS", "load_overlay", "overlays_setting"]

OVERLAY_KEYS = ("environment", "deploy", "healthcheck", "stop_grace_period", "ports")


def load_overlay(repo: Path, environment: str,
                 workers: list[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``deploy/ENV.yml`` as (overlay for all workers, overlay per worker), checked."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*", environment):
        raise InputError(f"environment {environment!r}: use a lowercase name, e.g. production")
    path = repo / "deploy" / f"{environment}.yml"
    source = relative(path, repo)
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise InputError(f"{source}: cannot read the overlay of environment "
                           f"{environment!r} ({exc.strerror}); create it") from None
    except YAMLError as exc:
        raise InputError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 ({exc.reason} at byte {exc.start}); save it "
                         "as UTF-8") from None
    except RecursionError:
        raise InputError(f"{source}: nested too deeply to read; an overlay is a few "
                         "levels of keys") from None
    problems: list[str] = []
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a mapping with 'all' and/or 'workers'")
    problems += [f"{source}: {key}: unknown key; use 'all' or 'workers'"
                 for key in data if key not in ("all", "workers")]
    common = _checked(data.get("all") or {}, f"{source}: all", problems)
    per_worker: dict[str, dict[str, Any]] = {}
    named = data.get("workers") or {}
    if not isinstance(named, dict):
        problems.append(f"{source}: workers: expected a mapping of worker name to overlay")
        named = {}
    for name, overlay in named.items():
        if name not in workers:
            problems.append(f"{source}: workers.{name}: no such worker; known: "
                            f"{', '.join(workers) or 'none'}")
        per_worker[name] = _checked(overlay or {}, f"{source}: workers.{name}", problems)
    if problems:
        raise InputError("\n".join(problems))
    return common, per_worker


def _checked(overlay: Any, where: str, problems: list[str]) -> dict[str, Any]:
    if not isinstance(overlay, dict):
        problems.append(f"{where}: expected a mapping of service keys")
        return {}
    for key, value in overlay.items():
        if key not in OVERLAY_KEYS:
            problems.append(f"{where}.{key}: not a key the generator writes; allowed: "
                            f"{', '.join(OVERLAY_KEYS)} (other keys: edit the stack file)")
        elif key in ("environment", "deploy", "healthcheck") and not isinstance(value, dict):
            problems.append(f"{where}.{key}: expected a mapping")
        elif key == "deploy":
            problems.extend(f"{where}.deploy.{sub}: not a key the generator writes; allowed: "
                            f"{', '.join(DEPLOY_KEYS)}" for sub in value if sub not in DEPLOY_KEYS)
    return overlay


def overlays_setting(repo: Path, worker: str, deploy_key: str) -> list[str]:
    """The overlays (``deploy/*.yml``) that set ``deploy.<deploy_key>`` for ``worker``."""
    found = []
    for path in sorted((repo / "deploy").glob("*.yml")):
        environment = path.stem
        if not re.fullmatch(r"[a-z][a-z0-9-]*", environment) or path.name.startswith("stack."):
            continue
        try:
            common, per_worker = load_overlay(repo, environment, [worker])
        except ToolingError:
            continue  # an overlay for other workers, or a broken one: compose says so
        for overlay in (common, per_worker.get(worker, {})):
            deploy = overlay.get("deploy")
            if isinstance(deploy, dict) and deploy_key in deploy:
                found.append(f"deploy/{path.name}")
                break
    return found
