"""``workers db-upgrade``: the engine's own SQL upgrade scripts, run on its database before a
new engine starts.

Camunda 7 (and Operaton) ship PostgreSQL upgrade scripts inside the engine jar
(``org/camunda/bpm/engine/db/upgrade/postgres_engine_7.23_to_7.24.sql``, and patch scripts
``postgres_engine_7.23_patch_7.23.1_to_7.23.2.sql``); the engine itself never runs them. The
database says which schema it holds (the highest ``version_`` in ``ACT_GE_SCHEMA_LOG``); the
jar which one it needs (the version its own create script logs). The scripts between the two
run in one transaction: all or nothing. ``dry_run`` only says which ones it would run.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, ToolingError
from ..stackfile._labels import DB_NODE_LABEL
from ._docker_client import docker_cli

__all__ = ["UpgradePlan", "engine_schema", "plan_upgrade", "stack_database_sql",
           "upgrade_database"]

_ENGINE_JAR = re.compile(r"BOOT-INF/lib/(?:camunda|operaton)-engine-\d[^/]*\.jar$")
_PACKAGE = re.compile(r"^org/(?:camunda|operaton)/bpm/engine/db/")
_CREATE = "create/activiti.postgres.create.engine.sql"
_LOGGED = re.compile(r"ACT_GE_SCHEMA_LOG\s+values\s*\(\s*'0'\s*,\s*CURRENT_TIMESTAMP\s*,\s*"
                     r"'([^']+)'", re.IGNORECASE)
_MINOR = re.compile(r"^postgres_engine_(\d+)\.(\d+)_to_(\d+)\.(\d+)\.sql$")
_PATCH = re.compile(r"^postgres_engine_(\d+)\.(\d+)_patch_(\d+(?:\.\d+){2})_to_(\d+(?:\.\d+){2})"
                    r"(?:_(\d+))?\.sql$")

Version = tuple[int, ...]
RunSql = Callable[[str], str]


def _version(text: str) -> Version:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _shown(version: Version) -> str:
    return ".".join(map(str, version))


@dataclass(frozen=True)
class UpgradePlan:
    """From the database's schema ``current`` to the engine's ``target``: these scripts."""

    current: str
    target: str
    scripts: tuple[str, ...]
    applied: bool = False


@dataclass(frozen=True)
class EngineSchema:
    """What an engine jar brings: the schema version it needs, its upgrade scripts by name."""

    version: str
    scripts: dict[str, str]


def engine_schema(jar: Path) -> EngineSchema:
    """The schema version and PostgreSQL upgrade scripts inside a Spring Boot engine jar
    (``engine/target/engine-camunda.jar``; the engine library is a jar inside it)."""
    try:
        with zipfile.ZipFile(jar) as outer:
            inner_name = next((n for n in outer.namelist() if _ENGINE_JAR.search(n)), None)
            if inner_name is None:
                raise InputError(f"{jar}: no camunda-engine or operaton-engine library inside; "
                                 "give the engine jar (engine/engine.sh build camunda makes "
                                 "engine/target/engine-camunda.jar)")
            with zipfile.ZipFile(io.BytesIO(outer.read(inner_name))) as inner:
                files = {_PACKAGE.sub("", n): n for n in inner.namelist() if _PACKAGE.match(n)}
                create = inner.read(files[_CREATE]).decode() if _CREATE in files else ""
                scripts = {name.removeprefix("upgrade/"): inner.read(path).decode()
                           for name, path in files.items()
                           if name.startswith("upgrade/postgres_engine_")}
    except FileNotFoundError:
        raise InputError(f"{jar}: no such file; build it with engine/engine.sh build camunda"
                         ) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{jar}: not a readable jar ({exc})") from None
    logged = _LOGGED.search(create)
    if logged is None:
        raise InputError(f"{jar}: its engine has no PostgreSQL create script logging a schema "
                         "version; is it a Camunda 7 / Operaton engine?")
    return EngineSchema(logged.group(1), scripts)


def plan_upgrade(current: str, schema: EngineSchema) -> UpgradePlan:
    """The scripts from ``current`` to ``schema.version``, in the order the engine's
    documentation gives: the current minor's patches, each minor step followed by the
    patches of the minor it reaches (up to the target's patch level)."""
    start, target = _version(current), _version(schema.version)
    if start[:2] > target[:2] or (start[:2] == target[:2] and start > target):
        raise ToolingError(f"the database holds schema {current}, newer than this engine's "
                           f"{schema.version}: start the engine of {current} (or newer)")
    minors: dict[Version, str] = {}
    patches: dict[Version, list[tuple[Version, int, Version, str]]] = {}
    for name in schema.scripts:
        if match := _MINOR.match(name):
            minors[(int(match[1]), int(match[2]))] = name
        elif match := _PATCH.match(name):
            patches.setdefault((int(match[1]), int(match[2])), []).append(
                (_version(match[3]), int(match[5] or 0), _version(match[4]), name))

    def patches_of(minor: Version, after: Version, upto: Version | None) -> list[str]:
        return [name for src, _, dst, name in sorted(patches.get(minor, []))
                if src >= after and (upto is None or dst <= upto)]

    minor = start[:2]
    chosen = patches_of(minor, start, target if minor == target[:2] else None)
    while minor < target[:2]:
        step = minors.get(minor)
        if step is None:
            raise ToolingError(f"no upgrade script from {_shown(minor)} in the jar "
                               f"(postgres_engine_{_shown(minor)}_to_...): the database "
                               f"({current}) is older than this engine ({schema.version}) can "
                               "upgrade; upgrade through an engine version in between")
        dst = _version(step.removeprefix("postgres_engine_").split("_to_")[1])
        chosen.append(step)
        minor = dst[:2]
        chosen += patches_of(minor, (*minor, 0), target if minor == target[:2] else None)
    return UpgradePlan(current, schema.version, tuple(chosen))


def schema_version(run_sql: RunSql) -> str | None:
    """The highest version in the database's ACT_GE_SCHEMA_LOG; None without engine tables."""
    present = run_sql("select count(*) from information_schema.tables "
                      "where table_schema = current_schema() and table_name = 'act_ge_schema_log'")
    if present.strip() in ("", "0"):
        return None
    versions = [line.strip() for line in run_sql(
        "select version_ from act_ge_schema_log").splitlines() if line.strip()]
    return _shown(max(_version(v) for v in versions)) if versions else None


def stack_database_sql(stack: str, *, user: str = "camunda",
                       database: str = "camunda") -> RunSql:
    """SQL run by psql inside the stack's db container (its local socket needs no password;
    Docker must reach the node that runs it), in one transaction; the tuples it prints."""
    service = f"{stack}_db"
    containers: list[str] = []  # looked up at the first statement: the jar is read before

    def container() -> str:
        if not containers:
            found = docker_cli(["ps", "-q", "--filter",
                                f"label=com.docker.swarm.service.name={service}"])
            if found.returncode != 0 or not found.stdout.split():
                raise ToolingError(f"no running container of service {service} on this Docker "
                                   "engine; run this on (or with DOCKER_HOST of) the node "
                                   f"labelled {DB_NODE_LABEL}=true")
            containers.append(found.stdout.split()[0])
        return containers[0]

    def run_sql(sql: str) -> str:
        done = docker_cli(["exec", "-i", container(), "psql", "-U", user, "-d", database, "-q",
                           "-A", "-t", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                           "-f", "-"], input_text=sql, timeout=600)
        if done.returncode != 0:
            raise ToolingError(f"psql in {service} failed; nothing was changed (one "
                               f"transaction): {done.stderr.strip()[-2000:]}")
        return done.stdout

    return run_sql


def upgrade_database(jar: Path, run_sql: RunSql, *, dry_run: bool = False) -> UpgradePlan:
    """Run the engine jar's upgrade scripts the database needs, in one transaction."""
    schema = engine_schema(jar)
    current = schema_version(run_sql)
    if current is None:
        raise ToolingError("the database has no engine schema yet: nothing to upgrade (the "
                           "engine creates its schema on its first start)")
    plan = plan_upgrade(current, schema)
    if dry_run or not plan.scripts:
        return plan
    run_sql("".join(f"-- {name}\n{schema.scripts[name]}\n" for name in plan.scripts))
    after = schema_version(run_sql)
    if after is None or _version(after)[:2] != _version(schema.version)[:2]:
        raise ToolingError(f"the upgrade scripts ran, but the database now says schema "
                           f"{after}, not {schema.version}")
    return UpgradePlan(current, schema.version, plan.scripts, applied=True)
