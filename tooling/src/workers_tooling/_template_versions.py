"""Template versions: ``_template_version`` in copier.yml, turned into the tags Copier reads.

Copier takes a template's versions from its git tags (``vX.Y.Z``). Clones made the way CI
makes them carry no tags, and commits are rewritten on their way to main (squash, rebase),
so the versions live in the tree instead, and the tags are derived from the history:
version ``X.Y.Z`` is tagged ``vX.Y.Z`` on the commit that first sets it (a commit whose
copier.yml says ``_template_version: X.Y.Z`` while none of its parents' does). The same
history gives the same tags on the same commits in every clone; a rewritten history gives
them again, on its new commits.

The tags are annotated with a fixed tagger and the commit's own date, so even the tag
objects are identical in every clone. A tag with that tagger is ours and follows the
history (it moves when the commit it points at is no longer the one that sets its
version); any other tag in the way is reported and left alone.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.version import InvalidVersion, Version

from .errors import ToolingError

__all__ = [
    "CONFIG_FILE",
    "TAGGER_EMAIL",
    "VERSION_KEY",
    "TemplateVersionError",
    "TemplateVersions",
    "VersionTag",
    "changelog_versions",
    "derive_versions",
    "read_version",
    "run_git",
    "sync_template_tags",
]

CONFIG_FILE = "copier.yml"
CHANGELOG = "CHANGELOG.md"
VERSION_KEY = "_template_version"
TAGGER_NAME = "camunda-workers"
TAGGER_EMAIL = "template-versions@camunda-workers.invalid"
_VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_VERSION_LINE = re.compile(rf"^{VERSION_KEY}:[ \t]*(?P<value>.*?)[ \t]*(#.*)?$", re.MULTILINE)
_SUBDIRECTORY_LINE = re.compile(r"^_subdirectory:[ \t]*['\"]?(?P<value>[^'\"#\s]+)", re.MULTILINE)
_CHANGELOG_HEADING = re.compile(r"^##\s+v(\d+\.\d+\.\d+)\b", re.MULTILINE)


class TemplateVersionError(ToolingError):
    """The template's version or its tags are inconsistent; the message says the fix."""


def read_version(config_text: str) -> str | None:
    """The ``_template_version`` of a copier.yml text, as written (``None`` if absent)."""
    match = _VERSION_LINE.search(config_text)
    return match.group("value").strip("'\"") if match else None


def changelog_versions(repo: Path) -> set[str]:
    """The versions with a ``## vX.Y.Z`` entry in the repository's CHANGELOG.md."""
    try:
        text = (repo / CHANGELOG).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    return set(_CHANGELOG_HEADING.findall(text))


def run_git(cwd: Path, *args: str, stdin: bytes | None = None, timeout: float | None = None,
            ) -> subprocess.CompletedProcess[bytes]:
    """``git ARGS`` in ``cwd`` (any exit code); a missing git is a clear error."""
    try:
        return subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True,
                              check=False, timeout=timeout)
    except FileNotFoundError:
        raise TemplateVersionError(
            "git is not installed: template versions come from the repository's history; "
            "install git") from None


def _git(repo: Path, *args: str, stdin: str | None = None) -> str:
    done = run_git(repo, *args, stdin=stdin.encode() if stdin is not None else None)
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").strip()
        raise TemplateVersionError(f"git {args[0]} failed in {repo}: {error}")
    return done.stdout.decode(errors="replace")


def _git_ok(repo: Path, *args: str) -> bool:
    return run_git(repo, *args).returncode == 0


@dataclass(frozen=True)
class _Commit:
    sha: str
    date: int  # committer time, seconds


def _versions_at(repo: Path, revisions: Sequence[str]) -> dict[str, str | None]:
    """``rev -> _template_version`` of copier.yml there, for many revisions in one git call."""
    if not revisions:
        return {}
    query = "".join(f"{rev}:{CONFIG_FILE}\n" for rev in revisions)
    done = run_git(repo, "cat-file", "--batch", stdin=query.encode())
    if done.returncode != 0:
        raise TemplateVersionError(f"git cat-file failed in {repo}: "
                                   f"{done.stderr.decode(errors='replace').strip()}")
    raw = done.stdout
    found: dict[str, str | None] = {}
    position = 0
    for rev in revisions:
        end = raw.index(b"\n", position)
        header = raw[position:end].split()
        position = end + 1
        if len(header) != 3:  # "<rev>:copier.yml missing"
            found[rev] = None
            continue
        size = int(header[2])
        text = raw[position:position + size].decode("utf-8", errors="replace")
        position += size + 1
        found[rev] = read_version(text)
    return found


def derive_versions(repo: Path) -> dict[str, _Commit]:
    """``version -> the commit that first sets it``, from the history of HEAD alone."""
    log = _git(repo, "log", "--full-history", "--format=%H %ct %P", "HEAD", "--", CONFIG_FILE)
    history = [line.split() for line in log.splitlines() if line]
    revisions = sorted({rev for sha, _, *parents in history for rev in (sha, *parents)})
    versions = _versions_at(repo, revisions)
    introduced: dict[str, list[_Commit]] = {}
    for sha, date, *parents in history:
        version = versions.get(sha)
        if version is None or not _VERSION.fullmatch(version):
            continue  # a commit of the past cannot be fixed: versions start where valid
        if any(versions.get(parent) == version for parent in parents):
            continue
        introduced.setdefault(version, []).append(_Commit(sha, int(date)))
    return {version: _earliest(repo, commits) for version, commits in introduced.items()}


def _earliest(repo: Path, commits: list[_Commit]) -> _Commit:
    """The one commit of several that set the same version (branches that each did)."""
    if len(commits) > 1:
        # Not a descendant of another candidate; then the oldest. Independent of traversal
        # order, so the answer does not change as history grows.
        roots = [c for c in commits if not any(
            o.sha != c.sha and _git_ok(repo, "merge-base", "--is-ancestor", o.sha, c.sha)
            for o in commits)]
        commits = roots or commits
    return min(commits, key=lambda commit: (commit.date, commit.sha))


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
    for line in _git(repo, "for-each-ref", f"--format={fmt}", "refs/tags").splitlines():
        name, target, peeled, email = [*line.split("\t"), "", "", ""][:4]
        tags[name] = _ExistingTag(target, peeled or target, email == f"<{TAGGER_EMAIL}>")
    return tags


def _tag_object(repo: Path, version: str, commit: _Commit) -> str:
    body = (f"object {commit.sha}\ntype commit\ntag v{version}\n"
            f"tagger {TAGGER_NAME} <{TAGGER_EMAIL}> {commit.date} +0000\n\n"
            f"Template version {version}: the commit that sets {VERSION_KEY}: {version} "
            f"in {CONFIG_FILE} (derived by `workers template-version`).\n")
    return _git(repo, "mktag", stdin=body).strip()


def _head_version(repo: Path) -> str:
    if not _git_ok(repo, "rev-parse", "--verify", "--quiet", "HEAD"):
        raise TemplateVersionError(
            f"{repo} has no commits yet: commit {CONFIG_FILE} first; its template versions "
            "come from the history")
    raw = _versions_at(repo, ["HEAD"])["HEAD"]
    if raw is None:
        raise TemplateVersionError(
            f"{repo / CONFIG_FILE}: {VERSION_KEY}: missing in the last commit; add a line "
            f"`{VERSION_KEY}: 0.1.0` and commit it (see CHANGELOG.md, releasing a template "
            "version)")
    if not _VERSION.fullmatch(raw):
        raise TemplateVersionError(
            f"{repo / CONFIG_FILE}: {VERSION_KEY}: {raw!r} is not a version MAJOR.MINOR.PATCH;"
            f" write e.g. `{VERSION_KEY}: 0.3.0` and commit it")
    return raw


def _check_repository(repo: Path) -> None:
    if not repo.is_dir():
        raise TemplateVersionError(f"{repo} does not exist: pass the template repository's "
                                   "folder")
    if not _git_ok(repo, "rev-parse", "--git-dir"):
        raise TemplateVersionError(
            f"{repo} is not a git repository: template versions and updates come from its "
            "history; work in a clone (git clone ...)")
    top = Path(_git(repo, "rev-parse", "--show-toplevel").strip())
    if top.resolve() != repo.resolve():
        raise TemplateVersionError(
            f"{repo} is inside the git repository {top}, not its root: Copier reads a "
            "template's versions only at the root of its repository")


def sync_template_tags(repo: Path) -> TemplateVersions:
    """Derive the template's versions from HEAD's history and create or move their tags."""
    _check_repository(repo)
    current = _head_version(repo)
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
    return TemplateVersions(repo, current, tags, _release_problems(repo, current, derived),
                            _stray_tags(existing, derived, current))


def _conflict(version: str, commit: _Commit, tag: _ExistingTag) -> str:
    name = f"v{version}"
    return (f"tag {name} points at {tag.commit[:10]}, but template version {version} is set "
            f"first by commit {commit.sha[:10]} ({CONFIG_FILE}, {VERSION_KEY}); it is not a "
            f"tag `workers` made: delete it (`git tag -d {name}`) and run "
            "`workers template-version` again")


def _sync_one(repo: Path, version: str, commit: _Commit, tag: _ExistingTag | None,
              ) -> VersionTag:
    name = f"v{version}"
    if tag is not None and tag.commit == commit.sha:
        return VersionTag(version, commit.sha, "present")
    new = _tag_object(repo, version, commit)
    # Compare-and-swap: a concurrent run may have made the same tag meanwhile.
    old = tag.target if tag is not None else ""
    if not _git_ok(repo, "update-ref", f"refs/tags/{name}", new, old):
        again = _existing_tags(repo).get(name)
        if again is None or again.commit != commit.sha:
            raise TemplateVersionError(f"could not write tag {name} in {repo}: it changed "
                                       "meanwhile; run the command again")
        return VersionTag(version, commit.sha, "present")
    return VersionTag(version, commit.sha, "created" if tag is None else "moved")


def _release_problems(repo: Path, current: str, derived: Mapping[str, _Commit]) -> tuple[str, ...]:
    """What `workers template-version --check` fails on: a release step left out."""
    problems = []
    if (repo / CHANGELOG).exists() and current not in changelog_versions(repo):
        problems.append(f"{CHANGELOG} has no entry for v{current}: add a `## v{current}` "
                        "section saying what `workers update` changes in a worker")
    config = repo / CONFIG_FILE
    with_tree = read_version(config.read_text(encoding="utf-8")) if config.exists() else None
    if with_tree is not None and with_tree != current:
        problems.append(f"{CONFIG_FILE}: {VERSION_KEY}: {with_tree} is not committed yet; "
                        f"workers get v{current} until it is")
    text = config.read_text(encoding="utf-8") if config.exists() else ""
    match = _SUBDIRECTORY_LINE.search(text)
    paths = [CONFIG_FILE, match.group("value") if match else "."]
    since = derived[current].sha
    changed = [name for name in _git(repo, "diff", "-z", "--name-only", since, "HEAD", "--",
                                     *paths).split("\0") if name]
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5
                                          else "")
        problems.append(
            f"the template changed after v{current} ({since[:10]}): {shown}; workers get "
            f"those changes with the next version: raise {VERSION_KEY} in {CONFIG_FILE} and "
            f"add its {CHANGELOG} entry")
    return tuple(problems)


def _stray_tags(existing: Mapping[str, _ExistingTag], derived: Mapping[str, _Commit],
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
