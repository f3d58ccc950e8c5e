"""Where a worker's template lives, which versions it has, and whether a recorded one exists.

Two kinds of template source:

* **versioned**: a local git repository whose copier.yml sets ``_template_version`` (this
  repository, or a camunda-workers clone passed as ``--template PATH``). Its tags are
  derived from its history first (:mod:`._tags`), and the commands pin Copier
  to the version its HEAD sets, so tags of other branches never leak in.
* **tagged**: any other git template (a URL, or a local repository without the field): its
  own ``vX.Y.Z`` (PEP 440) tags are its versions, as Copier reads them.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from ..git import run_git
from ._tags import TemplateVersions, sync_template_tags
from ._versions import (
    CONFIG_FILE,
    VERSION_KEY,
    TemplateVersionError,
    read_version,
)

__all__ = ["SourceCache", "TemplateSource", "is_url", "parse_version", "resolve_source"]

Warn = Callable[[str], None]
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://|^git@")
_DESCRIBED = re.compile(r"^(?P<base>.+)-(?P<count>\d+)-g[0-9a-f]+$")


def is_url(source: str) -> bool:
    return bool(_URL.match(source))


def parse_version(ref: str) -> Version | None:
    """``v0.3.0`` -> 0.3.0; ``v0.3.0-2-gabc`` (``git describe``) -> 0.3.0.post2; else None."""
    described = _DESCRIBED.match(ref)
    try:
        if described:
            return Version(f"{described['base']}.post{described['count']}")
        return Version(ref)
    except InvalidVersion:
        return None


@dataclass(frozen=True)
class TemplateSource:
    """A template: where it is, its version tags (ascending) and the one to use by default."""

    location: str  # absolute path or URL, what git and Copier are given
    local: Path | None
    versions: TemplateVersions | None  # set for a versioned source
    tags: tuple[str, ...]

    @property
    def latest(self) -> str:
        return self.versions.latest if self.versions else self.tags[-1]

    def location_shown(self) -> str:
        """The template as messages name it: its folder, else its URL."""
        return str(self.local) if self.local else self.location

    def has(self, ref: str) -> bool:
        """Whether ``ref`` (a recorded ``_commit``) exists in this template."""
        if ref in self.tags:
            return True
        if self.versions is not None or self.local is None:
            return False  # versioned: only its versions; remote: only tags are checkable
        return run_git(self.local, "rev-parse", "--verify", "--quiet",
                       f"{ref}^{{commit}}").returncode == 0

    def version_ref(self, wanted: str | None) -> str:
        """The tag to pin Copier to: ``wanted`` (``0.3.0`` or ``v0.3.0``) or the latest."""
        if wanted is None:
            return self.latest
        for candidate in (wanted, f"v{wanted}"):
            if candidate in self.tags:
                return candidate
        raise TemplateVersionError(
            f"{wanted!r} is not a version of the template {self.location_shown()}; known: "
            f"{', '.join(self.tags)} (a version, never a commit: answers files record versions)")


class SourceCache:
    """Resolves each template once per command (tags are synced once), collecting warnings."""

    def __init__(self, warn: Warn | None = None) -> None:
        self._sources: dict[str, TemplateSource] = {}
        self._warn = warn

    def get(self, source: str, base: Path) -> TemplateSource:
        key = source if is_url(source) or os.path.isabs(source) else str((base / source).resolve())
        if key not in self._sources:
            self._sources[key] = resolve_source(key, warn=self._warn)
        return self._sources[key]


def _is_git_root(path: Path) -> bool:
    done = run_git(path, "rev-parse", "--show-toplevel")
    return done.returncode == 0 and Path(done.stdout.decode().strip()).resolve() == path.resolve()


def _is_versioned(path: Path) -> bool:
    config = path / CONFIG_FILE
    try:
        return read_version(config.read_text(encoding="utf-8")) is not None
    except (OSError, UnicodeDecodeError):
        return False


def _remote_tags(location: str) -> tuple[str, ...]:
    # Copier's "git+" prefix (git+file://...) marks a URL as git; git itself does not know it.
    url = location.removeprefix("git+")
    try:
        done = run_git(Path.cwd(), "ls-remote", "--tags", "--refs", "--", url, timeout=120)
    except subprocess.TimeoutExpired:
        raise TemplateVersionError(f"the template {location} did not answer within 120 s "
                                   "(git ls-remote); check the URL and the network") from None
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").strip() or "git ls-remote failed"
        raise TemplateVersionError(f"cannot read the template {location}: {error}")
    lines = done.stdout.decode(errors="replace").splitlines()
    names = [line.split("\t", 1)[1].removeprefix("refs/tags/") for line in lines if "\t" in line]
    versions = [(parse_version(name), name) for name in names]
    # Copier's rule: PEP 440 tags, prereleases left out.
    usable = [(version, name) for version, name in versions
              if version is not None and not version.is_prerelease and not _DESCRIBED.match(name)]
    return tuple(name for _, name in sorted(usable))


def resolve_source(location: str, *, warn: Warn | None = None) -> TemplateSource:
    """Inspect the template at ``location`` (absolute path or URL); sync tags if versioned."""
    if is_url(location):
        local = None
    else:
        local = Path(location)
        if not local.is_dir():
            raise TemplateVersionError(f"the template {local} does not exist; pass "
                                       "--template PATH_OR_GIT_URL of a template repository")
        if not _is_git_root(local):
            raise TemplateVersionError(
                f"the template {local} is not the root of a git repository: workers record "
                "the template version they were made from, and versions are git tags; use a "
                "git repository (or its URL) as the template")
    if local is not None and _is_versioned(local):
        versions = sync_template_tags(local)
        for message in (*versions.warnings, *versions.release_problems):
            if warn is not None:
                warn(f"{local}: {message}")
        return TemplateSource(str(local), local, versions, tuple(versions.known))
    tags = _remote_tags(location)
    if not tags:
        raise TemplateVersionError(
            f"the template {location} has no version tags (vX.Y.Z): tag a release there "
            f"(`git tag v1.0.0`), or set `{VERSION_KEY}` in its {CONFIG_FILE} and let "
            "`workers template-version` derive them")
    return TemplateSource(location, local, None, tags)
