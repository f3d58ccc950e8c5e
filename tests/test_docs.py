"""The Markdown files point where they say: every relative link of every ``*.md`` file of
the repository resolves to a file or folder, and a ``#fragment`` to a heading of its
target (as GitHub makes anchors). The SDK's README is its package page, shown where
relative links break, so it has none."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """``text`` without code: fenced blocks and inline code hold no links or headings."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def _anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings: lower case, punctuation dropped, spaces to
    hyphens, ``-1``, ``-2`` for repeats."""
    anchors: set[str] = set()
    for heading in _HEADING.findall(_FENCE.sub("", markdown)):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in anchors:
            n += 1
            candidate = f"{slug}-{n}"
        anchors.add(candidate)
    return anchors


def _markdown_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    return [REPO / name for name in sorted(set(listed)) if (REPO / name).exists()]


def _relative_links(path: Path) -> list[str]:
    return [target for target in _LINK.findall(_prose(path.read_text(encoding="utf-8")))
            if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def test_the_docs_are_found() -> None:
    names = {str(p.relative_to(REPO)) for p in _markdown_files()}
    assert {"README.md", "sdk/README.md", "tooling/README.md", "docs/production.md",
            "deploy/monitoring/README.md", "tests/README.md"} <= names


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(path: Path) -> None:
    broken = []
    for target in _relative_links(path):
        file_part, _, fragment = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in _anchors(
                linked.read_text(encoding="utf-8")):
            broken.append(f"{target}: no heading #{fragment} in {linked.relative_to(REPO)}")
    assert broken == [], f"{path.relative_to(REPO)}: {broken}"


def test_the_sdk_package_page_has_no_relative_links() -> None:
    """sdk/README.md is what the package index shows: only absolute links and anchors."""
    links = _relative_links(REPO / "sdk" / "README.md")
    assert [link for link in links if not link.startswith("#")] == []
