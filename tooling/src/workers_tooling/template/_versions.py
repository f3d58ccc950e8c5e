"""Template versions: ``_template_version`` in copier.yml, and the commits that set them.

Copier takes a template's versions from its git tags (``vX.Y.Z``). Clones made the way CI
makes them carry no tags, and commits are rewritten on their way to main (squash, rebase),
so the versions live in the tree instead: version ``X.Y.Z`` belongs to the commit that
first sets it (a commit whose copier.yml says ``_template_version: X.Y.Z`` while none of
its parents' does), found from the history alone. The same history gives the same commits
in every clone; a rewritten history gives them again, on its new commits.
:mod:`._tags` turns them into the tags.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import TemplateVersionError, ToolingError
from ..git import run_git

__all__ = [
    "CHANGELOG",
    "CONFIG_FILE",
    "VERSION_KEY",
    "TemplateVersionError",
    "VersionCommit",
    "changelog_versions",
    "check_repository",
    "derive_versions",
    "git_ok",
    "git_output",
    "head_version",
    "read_version",
    "release_problems",
]

CONFIG_FILE = "copier.yml"
CHANGELOG = "CHANGELOG.md"
VERSION_KEY = "_template_version"
_VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_VERSION_LINE = re.compile(rf"^{VERSION_KEY}:[ \t]*(?P<value>.*?)[ \t]*(#.*)?$", re.MULTILINE)
_SUBDIRECTORY_LINE = re.compile(r"^_subdirectory:[ \t]*['\"]?(?P<value>[^'\"#\s]+)", re.MULTILINE)
_CHANGELOG_HEADING = re.compile(r"^##\s+v(\d+\.\d+\.\d+)\b", re.MULTILINE)


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


def git_output(repo: Path, *args: str, stdin: str | None = None) -> str:
    done = run_git(repo, *args, stdin=stdin.encode() if stdin is not None else None)
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").strip()
        raise TemplateVersionError(f"git {args[0]} failed in {repo}: {error}")
    return done.stdout.decode(errors="replace")


def git_ok(repo: Path, *args: str) -> bool:
    return run_git(repo, *args).returncode == 0


@dataclass(frozen=True)
class VersionCommit:
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


def derive_versions(repo: Path) -> dict[str, VersionCommit]:
    """``version -> the commit that first sets it``, from the history of HEAD alone."""
    log = git_output(repo, "log", "--full-history", "--format=%H %ct %P", "HEAD", "--", CONFIG_FILE)
    history = [line.split() for line in log.splitlines() if line]
    revisions = sorted({rev for sha, _, *parents in history for rev in (sha, *parents)})
    versions = _versions_at(repo, revisions)
    introduced: dict[str, list[VersionCommit]] = {}
    for sha, date, *parents in history:
        version = versions.get(sha)
        if version is None or not _VERSION.fullmatch(version):
            continue  # a commit of the past cannot be fixed: versions start where valid
        if any(versions.get(parent) == version for parent in parents):
            continue
        introduced.setdefault(version, []).append(VersionCommit(sha, int(date)))
    return {version: _earliest(repo, commits) for version, commits in introduced.items()}


def _earliest(repo: Path, commits: list[VersionCommit]) -> VersionCommit:
    """The one commit of several that set the same version (branches that each did)."""
    if len(commits) > 1:
        # Not a descendant of another candidate; then the oldest. Independent of traversal
        # order, so the answer does not change as history grows.
        roots = [c for c in commits if not any(
            o.sha != c.sha and git_ok(repo, "merge-base", "--is-ancestor", o.sha, c.sha)
            for o in commits)]
        commits = roots or commits
    return min(commits, key=lambda commit: (commit.date, commit.sha))


def head_version(repo: Path) -> str:
    if not git_ok(repo, "rev-parse", "--verify", "--quiet", "HEAD"):
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


def check_repository(repo: Path) -> None:
    if not repo.is_dir():
        raise TemplateVersionError(f"{repo} does not exist: pass the template repository's "
                                   "folder")
    if not git_ok(repo, "rev-parse", "--git-dir"):
        raise TemplateVersionError(
            f"{repo} is not a git repository: template versions and updates come from its "
            "history; work in a clone (git clone ...)")
    top = Path(git_output(repo, "rev-parse", "--show-toplevel").strip())
    if top.resolve() != repo.resolve():
        raise TemplateVersionError(
            f"{repo} is inside the git repository {top}, not its root: Copier reads a "
            "template's versions only at the root of its repository")


def release_problems(repo: Path, current: str, derived: Mapping[str, VersionCommit],
                     ) -> tuple[str, ...]:
    """What `workers template-version --check` fails on: a release step left out."""
    problems = []
    if (repo / CHANGELOG).exists() and current not in changelog_versions(repo):
        problems.append(f"{CHANGELOG} has no entry for v{current}: add a `## v{current}` "
                        "section saying what `workers update` changes in a worker")
    try:  # the working tree's copier.yml: a version raised but not committed yet
        text = (repo / CONFIG_FILE).read_bytes().decode("utf-8", errors="replace")
    except OSError:
        text = ""
    with_tree = read_version(text)
    if with_tree is not None and with_tree != current:
        problems.append(f"{CONFIG_FILE}: {VERSION_KEY}: {with_tree} is not committed yet; "
                        f"workers get v{current} until it is")
    match = _SUBDIRECTORY_LINE.search(text)
    paths = [CONFIG_FILE, match.group("value") if match else "."]
    since = derived[current].sha
    listed = git_output(repo, "diff", "-z", "--name-only", since, "HEAD", "--", *paths)
    changed = [name for name in listed.split("\0") if name]
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5
                                          else "")
        problems.append(
            f"the template changed after v{current} ({since[:10]}): {shown}; workers get "
            f"those changes with the next version: raise {VERSION_KEY} in {CONFIG_FILE} and "
            f"add its {CHANGELOG} entry")
    return tuple(problems)
