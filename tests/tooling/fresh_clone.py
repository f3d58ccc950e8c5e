"""Clones of this repository made the way CI makes them, for the template-version tests.

CI clones have no tags, and their commits are not the developers' (squash merges rewrite
them). :func:`squashed_copy` makes such a repository from this working tree: every file
git would track, committed once by another author at a fixed date, no tags. Tests clone it
with ``git clone --no-tags`` and run the real ``workers`` and ``copier`` commands in it.
Tags appear only when the product makes them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CI_ENV = {"GIT_AUTHOR_NAME": "ci", "GIT_AUTHOR_EMAIL": "ci@ci", "GIT_COMMITTER_NAME": "ci",
          "GIT_COMMITTER_EMAIL": "ci@ci", "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
          "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, **CI_ENV, **(env or {})})
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def commit_all(repo: Path, message: str, **env: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message, "--allow-empty", env=env)
    return git(repo, "rev-parse", "HEAD").strip()


def squashed_copy(destination: Path, *, source: Path = REPO) -> Path:
    """``source``'s working tree as a one-commit repository with no tags."""
    listed = git(source, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for relative in filter(None, listed.split("\0")):
        path = source / relative
        if path.is_file():  # deleted but still in the index: skip
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    git(destination, "init", "-q", "-b", "main")
    commit_all(destination, "everything, squashed")
    return destination


def clone(origin: Path, destination: Path) -> Path:
    git(origin.parent, "clone", "-q", "--no-tags", str(origin), str(destination))
    return destination


def tags(repo: Path) -> dict[str, str]:
    """Tag name -> ``tag-object commit``: equal in two clones when the tags are identical."""
    lines = git(repo, "for-each-ref", "--format=%(refname:strip=2) %(objectname) %(*objectname)",
                "refs/tags").splitlines()
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in lines}


def run(cwd: Path, *command: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    """A real command (``workers``, ``copier``, ``make``): never a traceback; exit ``check``."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, **CI_ENV, "COLUMNS": "200", "NO_COLOR": "1"})
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    if check is not None:
        assert done.returncode == check, f"{command} exited {done.returncode}:\n{output}"
    return done


def workers(cwd: Path, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    return run(cwd, str(BIN / "workers"), *args, check=check)


def template_version(repo: Path) -> str:
    match = re.search(r"^_template_version: (\S+)", (repo / "copier.yml").read_text(), re.M)
    assert match, "copier.yml has no _template_version"
    return match.group(1)


def next_minor(version: str) -> str:
    major, minor, _ = version.split(".")
    return f"{major}.{int(minor) + 1}.0"


def release(repo: Path, version: str, *, change: str, migration: str | None = None) -> str:
    """A template release as CHANGELOG.md describes it: change the template (a line added to
    main.py after the handlers), optionally a ``_migrations`` step, raise the version, add
    the CHANGELOG entry, one commit. Returns the commit."""
    main = repo / "template" / "main.py.jinja"
    entry = 'if __name__ == "__main__":'
    main.write_text(main.read_text().replace(entry, f"# {change}\n{entry}"))
    config = (repo / "copier.yml").read_text()
    config = re.sub(r"^_template_version: \S+", f"_template_version: {version}", config,
                    count=1, flags=re.M)
    if migration:
        step = f"  - version: v{version}\n    command: >-\n      {migration}\n"
        config = config.replace("\n# The questions.", f"{step}\n# The questions.", 1)
    (repo / "copier.yml").write_text(config)
    changelog = repo / "CHANGELOG.md"
    text = changelog.read_text()
    at = text.index("\n## v")
    changelog.write_text(f"{text[:at]}\n## v{version}\n\n- {change}\n{text[at:]}")
    return commit_all(repo, f"template v{version}: {change}")
