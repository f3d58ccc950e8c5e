"""How worker images are named, in one place: ``REGISTRY/workers-NAME:TAG``.

``REGISTRY`` defaults to :data:`DEFAULT_REGISTRY` and ``TAG`` to the worker's version;
``workers build`` adds ``:latest`` and the git commit. The committed stack file names
images with the same rule but leaves both to the deploy (``${REGISTRY:-local}/
workers-NAME:${TAG:-VERSION}``, which ``docker stack deploy`` fills in), so building and
deploying ``TAG=v2`` never changes it; ``workers deploy`` writes the names it built into
the file it deploys.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..git import GitMissing, run_git

__all__ = ["DEFAULT_REGISTRY", "ImageNames", "git_commit"]

DEFAULT_REGISTRY = "local"


@dataclass(frozen=True)
class ImageNames:
    """Registry and tag of the worker images; ``None`` leaves a part to the deploy
    (:meth:`resolve` fills it from ``REGISTRY``/``TAG`` or the defaults)."""

    registry: str | None = None
    tag: str | None = None
    resolved: bool = False

    def resolve(self, environ: Mapping[str, str] | None = None) -> ImageNames:
        """The given values, else ``REGISTRY``/``TAG`` of the environment, else defaults."""
        environ = os.environ if environ is None else environ
        registry = self.registry or environ.get("REGISTRY") or DEFAULT_REGISTRY
        return ImageNames(registry.rstrip("/"), self.tag or environ.get("TAG") or None,
                          resolved=True)

    def repository(self, worker: str) -> str:
        registry = (self.registry or "").rstrip("/") or f"${{REGISTRY:-{DEFAULT_REGISTRY}}}"
        return f"{registry}/workers-{worker}"

    def primary_tag(self, version: str) -> str:
        return self.tag or (version if self.resolved else f"${{TAG:-{version}}}")

    def image(self, worker: str, version: str) -> str:
        """The image a worker's service runs."""
        return f"{self.repository(worker)}:{self.primary_tag(version)}"

    def tags(self, version: str, commit: str | None) -> tuple[str, ...]:
        """Tags a build gives the image: the primary one, ``latest``, the commit."""
        return (self.primary_tag(version), "latest", *([commit] if commit else []))


def git_commit(repo: Path) -> tuple[str | None, str]:
    """(short commit of HEAD, ``COMMIT-dirty`` when the tree has uncommitted changes, or
    None with the reason why not)."""
    try:
        done = run_git(repo, "rev-parse", "--short", "HEAD", timeout=30)
    except GitMissing:
        return None, "git is not installed (apt-get install git): no commit tag"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"git rev-parse failed ({exc}): no commit tag"
    commit = done.stdout.decode(errors="replace").strip()
    if done.returncode != 0 or not commit:
        return None, f"{repo} is not a git checkout with commits: no commit tag"
    # An image of uncommitted code is not that commit's: its tag says so.
    try:
        status = run_git(repo, "status", "--porcelain", timeout=30)
    except (GitMissing, OSError, subprocess.TimeoutExpired) as exc:
        return None, f"git status failed ({exc}): no commit tag"
    if status.returncode != 0:
        return None, "git status failed: no commit tag"
    return (f"{commit}-dirty" if status.stdout.strip() else commit), ""
