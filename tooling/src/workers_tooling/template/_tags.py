"""The ``vX.Y.Z`` tags Copier reads, made from the versions of :mod:`._versions`.

Each version is tagged on the commit that first sets it. The tags are annotated with a
fixed tagger and the commit's own date, so even the tag objects are identical in every
clone. A tag with that tagger is ours and follows the history (it moves when the commit it
points at is no longer the one that sets its version); any other tag in the way is
reported and left alone, and nothing is written unless every tag can be.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.version import InvalidVersion, Version

from ._versions import (
    CONFIG_FILE,
    VERSION_KEY,
    TemplateVersionError,
    VersionCommit,
    check_repository,
    derive_versions,
    git_ok,
    git_output,
    head_version,
    release_problems,
)

__all__ = ["TAGGER_EMAIL", "TemplateVersions", "VersionTag", "sync_template_tags"]

TAGGER_NAME = "camunda-workers"
TAGGER_EMAIL = "template-versions@camunda-workers.invalid"


@dataclass(frozen=True)
class VersionTag:
    """A template version and its tag: ``created``, ``moved`` (ours, history was rewritten)
    or ``present`` (already right)."""

    version: str
    commit: str
    state: Literal["created", "moved", "present"]

    @property
    def name(self) -> str:
        return f"v{self.version}"


@dataclass(frozen=True)
class TemplateVersions:
    """What :func:`sync_template_tags` found and did for one template repository."""

    path: Path
    current: str
    tags: tuple[VersionTag, ...]
    release_problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def latest(self) -> str:
        """The tag of the version copier.yml sets at HEAD: what new workers get."""
        return f"v{self.current}"

    @property
    def known(self) -> list[str]:
        return [tag.name for tag in self.tags]


@dataclass(frozen=True)
class _ExistingTag:
    target: str  # the tag object (annotated) or the commit (lightweight)
    commit: str
    ours: bool


def _existing_tags(repo: Path) -> dict[str, _ExistingTag]:
    fmt = "%(refname:strip=2)%09%(objectname)%09%(*objectname)%09%(taggeremail)"
    tags = {}
    for line in git_output(repo, "for-each-ref", f"--format={fmt}", "refs/tags").splitlines():
        name, target, peeled, email = [*line.split("\t"), "", "", ""][:4]
        tags[name] = _ExistingTag(target, peeled or target, email == f"<{TAGGER_EMAIL}>")
    return tags


def _tag_object(repo: Path, version: str, commit: VersionCommit) -> str:
    body = (f"object {commit.sha}\ntype commit\ntag v{version}\n"
            f"tagger {TAGGER_NAME} <{TAGGER_EMAIL}> {commit.date} +0000\n\n"
            f"Template version {version}: the commit that sets {VERSION_KEY}: {version} "
            f"in {CONFIG_FILE} (derived by `workers template-version`).\n")
    return git_output(repo, "mktag", stdin=body).strip()


def sync_template_tags(repo: Path) -> TemplateVersions:
    """Derive the template's versions from HEAD's history and create or move their tags."""
    check_repository(repo)
    current = head_version(repo)
    derived = derive_versions(repo)
    highest = max(derived, key=Version)
    if Version(highest) > Version(current):
        raise TemplateVersionError(
            f"{repo / CONFIG_FILE}: {VERSION_KEY}: {current} is lower than {highest}, which "
            f"commit {derived[highest].sha[:10]} set: versions only go up; set a version "
            f"above {highest}")
    existing = _existing_tags(repo)
    ordered = sorted(derived, key=Version)
    # Every conflict first: nothing is written unless every tag can be.
    conflicts = [_conflict(version, derived[version], existing[f"v{version}"])
                 for version in ordered if f"v{version}" in existing
                 and existing[f"v{version}"].commit != derived[version].sha
                 and not existing[f"v{version}"].ours]
    if conflicts:
        raise TemplateVersionError("\n".join(conflicts))
    tags = tuple(_sync_one(repo, version, derived[version], existing.get(f"v{version}"))
                 for version in ordered)
    return TemplateVersions(repo, current, tags, release_problems(repo, current, derived),
                            _stray_tags(existing, derived, current))


def _conflict(version: str, commit: VersionCommit, tag: _ExistingTag) -> str:
    name = f"v{version}"
    return (f"tag {name} points at {tag.commit[:10]}, but template version {version} is set "
            f"first by commit {commit.sha[:10]} ({CONFIG_FILE}, {VERSION_KEY}); it is not a "
            f"tag `workers` made: delete it (`git tag -d {name}`) and run "
            "`workers template-version` again")


def _sync_one(repo: Path, version: str, commit: VersionCommit, tag: _ExistingTag | None,
              ) -> VersionTag:
    name = f"v{version}"
    if tag is not None and tag.commit == commit.sha:
        return VersionTag(version, commit.sha, "present")
    new = _tag_object(repo, version, commit)
    # Compare-and-swap: a concurrent run may have made the same tag meanwhile.
    old = tag.target if tag is not None else ""
    if not git_ok(repo, "update-ref", f"refs/tags/{name}", new, old):
        again = _existing_tags(repo).get(name)
        if again is None or again.commit != commit.sha:
            raise TemplateVersionError(f"could not write tag {name} in {repo}: it changed "
                                       "meanwhile; run the command again")
        return VersionTag(version, commit.sha, "present")
    return VersionTag(version, commit.sha, "created" if tag is None else "moved")


def _stray_tags(existing: Mapping[str, _ExistingTag], derived: Mapping[str, VersionCommit],
                current: str) -> tuple[str, ...]:
    """Version-like tags that are not versions of this history but that Copier would read."""
    warnings = []
    for name, tag in sorted(existing.items()):
        try:
            version = Version(name)
        except InvalidVersion:
            continue
        if name.removeprefix("v") in derived or version <= Version(current):
            continue
        origin = ("made by `workers` on another branch or history" if tag.ours
                  else "not made by `workers`")
        warnings.append(
            f"tag {name} ({tag.commit[:10]}) is {origin} and is not in this history: "
            f"`workers` commands use v{current}, but a plain `copier update` would take "
            f"{name} as the latest template version")
    return tuple(warnings)
