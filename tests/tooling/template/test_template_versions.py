"""Template versions derived from copier.yml's history: which commit gets which tag, in
small real git repositories (linear, merged, squashed, rebased, with tags in the way)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.tooling.fresh_clone import REPO, clone, commit_all, git, tags
from workers_tooling.template._tags import TAGGER_EMAIL, sync_template_tags
from workers_tooling.template._versions import (
    TemplateVersionError,
    changelog_versions,
    derive_versions,
    read_version,
)


def set_version(repo: Path, version: str) -> None:
    config = repo / "copier.yml"
    config.write_text(re.sub(r"^_template_version: .*$", f"_template_version: {version}",
                             config.read_text(), flags=re.M))
    changelog = repo / "CHANGELOG.md"
    changelog.write_text(changelog.read_text() + f"\n## v{version}\n\n- changes\n")


def touch_template(repo: Path, line: str) -> None:
    with (repo / "template" / "main.py.jinja").open("a") as file:
        file.write(f"# {line}\n")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A template repository whose first commit sets version 0.1.0."""
    root = tmp_path / "template-repo"
    (root / "template").mkdir(parents=True)
    (root / "copier.yml").write_text("# the template\n_template_version: 0.1.0\n"
                                     "_subdirectory: template\nname:\n  type: str\n")
    (root / "template" / "main.py.jinja").write_text("# {{ name }}\n")
    (root / "CHANGELOG.md").write_text("# Changelog\n\n## v0.1.0\n\n- first\n")
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "v0.1.0")
    return root


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def tagged(repo: Path) -> dict[str, str]:
    """Tag -> the commit it points at."""
    return {name: value.split()[-1] for name, value in tags(repo).items()}


def test_each_version_is_tagged_on_the_commit_that_first_sets_it(repo: Path) -> None:
    first = head(repo)
    touch_template(repo, "a change, released with the next version")
    commit_all(repo, "template change")
    set_version(repo, "0.2.0")
    second = commit_all(repo, "v0.2.0")
    commit_all(repo, "unrelated work")

    result = sync_template_tags(repo)

    assert (result.current, result.latest) == ("0.2.0", "v0.2.0")
    assert [(t.name, t.commit, t.state) for t in result.tags] == [
        ("v0.1.0", first, "created"), ("v0.2.0", second, "created")]
    assert tagged(repo) == {"v0.1.0": first, "v0.2.0": second}
    commit_all(repo, "more unrelated work")
    assert [t.state for t in sync_template_tags(repo).tags] == ["present", "present"]
    assert tagged(repo) == {"v0.1.0": first, "v0.2.0": second}
    # What Copier records for a worker made from v0.2.0:
    assert git(repo, "describe", "--tags", "--always", second).strip() == "v0.2.0"


def test_tag_objects_are_identical_in_every_clone(repo: Path, tmp_path: Path) -> None:
    set_version(repo, "0.2.0")
    commit_all(repo, "v0.2.0")
    one, two = clone(repo, tmp_path / "one"), clone(repo, tmp_path / "two")
    sync_template_tags(one)
    sync_template_tags(two)
    assert tags(one) == tags(two)
    shown = git(one, "cat-file", "-p", "v0.2.0")
    assert f"<{TAGGER_EMAIL}>" in shown
    assert "Template version 0.2.0: the commit that sets _template_version: 0.2.0" in shown


def test_a_version_merged_from_a_branch_is_tagged_on_the_branch_commit(repo: Path) -> None:
    git(repo, "switch", "-q", "-c", "feature")
    set_version(repo, "0.2.0")
    bump = commit_all(repo, "v0.2.0 on a branch")
    git(repo, "switch", "-q", "main")
    commit_all(repo, "meanwhile on main")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    assert derive_versions(repo)["0.2.0"].sha == bump
    # the branch's own clone agrees: same tag, same commit
    git(repo, "switch", "-q", "feature")
    assert derive_versions(repo)["0.2.0"].sha == bump


def test_a_squash_merge_tags_the_squashed_commit(repo: Path) -> None:
    git(repo, "switch", "-q", "-c", "feature")
    set_version(repo, "0.2.0")
    commit_all(repo, "v0.2.0")
    touch_template(repo, "a fix before merging")
    commit_all(repo, "fix")
    git(repo, "switch", "-q", "main")
    git(repo, "merge", "-q", "--squash", "feature")
    squashed = commit_all(repo, "feature (squashed)")
    git(repo, "branch", "-q", "-D", "feature")
    sync_template_tags(repo)
    assert tagged(repo)["v0.2.0"] == squashed


def test_two_branches_setting_one_version_agree_on_the_older_commit(repo: Path) -> None:
    base = head(repo)
    git(repo, "switch", "-q", "-c", "late")
    set_version(repo, "0.2.0")
    late = commit_all(repo, "v0.2.0, later", GIT_COMMITTER_DATE="2026-03-01T00:00:00Z")
    git(repo, "switch", "-q", "-c", "early", base)
    set_version(repo, "0.2.0")
    early = commit_all(repo, "v0.2.0, earlier", GIT_COMMITTER_DATE="2026-02-01T00:00:00Z")
    git(repo, "merge", "-q", "-m", "merge", "late", env={"GIT_MERGE_AUTOEDIT": "no"})
    assert derive_versions(repo)["0.2.0"].sha == early
    git(repo, "switch", "-q", "late")
    git(repo, "merge", "-q", "-m", "merge", "early", env={"GIT_MERGE_AUTOEDIT": "no"})
    assert derive_versions(repo)["0.2.0"].sha == early  # whichever side merges
    assert late != early


def test_our_tags_follow_a_rewritten_history(repo: Path) -> None:
    set_version(repo, "0.2.0")
    commit_all(repo, "v0.2.0")
    sync_template_tags(repo)
    old = tagged(repo)
    git(repo, "rebase", "-q", "--root", "--force-rebase",
        env={"GIT_COMMITTER_DATE": "2026-05-05T00:00:00Z"})
    result = sync_template_tags(repo)
    assert [t.state for t in result.tags] == ["moved", "moved"]
    assert tagged(repo)["v0.2.0"] == head(repo) != old["v0.2.0"]


def test_a_tag_not_made_by_workers_is_reported_and_left_alone(repo: Path) -> None:
    first = head(repo)
    set_version(repo, "0.2.0")
    second = commit_all(repo, "v0.2.0")
    git(repo, "tag", "v0.2.0", first)  # by hand, on the wrong commit
    with pytest.raises(TemplateVersionError) as caught:
        sync_template_tags(repo)
    message = str(caught.value)
    assert (f"tag v0.2.0 points at {first[:10]}, but template version 0.2.0 is set first by "
            f"commit {second[:10]}") in message
    assert "delete it (`git tag -d v0.2.0`) and run `workers template-version` again" in message
    assert tagged(repo) == {"v0.2.0": first}  # untouched, and nothing else written
    git(repo, "tag", "-d", "v0.2.0")
    git(repo, "tag", "v0.2.0", second)  # by hand, on the right commit: fine
    assert [t.state for t in sync_template_tags(repo).tags] == ["created", "present"]


def test_version_tags_copier_would_read_beyond_this_history_are_warned_about(repo: Path,
                                                                            ) -> None:
    git(repo, "tag", "v9.0.0")
    git(repo, "tag", "release-2026")  # not a version: Copier ignores it, so do we
    [warning] = sync_template_tags(repo).warnings
    assert warning.startswith("tag v9.0.0 (")
    assert ("not made by `workers` and is not in this history: `workers` commands use v0.1.0, "
            "but a plain `copier update` would take v9.0.0 as the latest") in warning


def test_a_version_lower_than_an_earlier_one_is_refused(repo: Path) -> None:
    set_version(repo, "0.2.0")
    commit_all(repo, "v0.2.0")
    set_version(repo, "0.1.5")
    commit_all(repo, "oops")
    with pytest.raises(TemplateVersionError, match=r"copier.yml: _template_version: 0.1.5 is "
                       r"lower than 0.2.0, which commit [0-9a-f]{10} set: versions only go up"):
        sync_template_tags(repo)


def test_release_steps_left_out_are_listed(repo: Path) -> None:
    assert sync_template_tags(repo).release_problems == ()
    touch_template(repo, "changed, not released")
    commit_all(repo, "template change")
    config = repo / "copier.yml"
    config.write_text(config.read_text().replace("0.1.0", "0.2.0"))  # not committed
    problems = sync_template_tags(repo).release_problems
    assert problems[0] == ("copier.yml: _template_version: 0.2.0 is not committed yet; "
                           "workers get v0.1.0 until it is")
    assert problems[1].startswith("the template changed after v0.1.0 (")
    assert problems[1].endswith("): template/main.py.jinja; workers get those changes with the "
                                "next version: raise _template_version in copier.yml and add "
                                "its CHANGELOG.md entry")
    commit_all(repo, "v0.2.0 without a CHANGELOG entry")
    assert sync_template_tags(repo).release_problems == (
        "CHANGELOG.md has no entry for v0.2.0: add a `## v0.2.0` section saying what "
        "`workers update` changes in a worker",)


@pytest.mark.parametrize(("config", "message"), [
    ("name:\n  type: str\n", "copier.yml: _template_version: missing in the last commit; add a "
                             "line `_template_version: 0.1.0` and commit it"),
    ("_template_version: 1.0\n", "copier.yml: _template_version: '1.0' is not a version "
                                 "MAJOR.MINOR.PATCH; write e.g. `_template_version: 0.3.0`"),
    ("_template_version: v1.0.0\n", "'v1.0.0' is not a version MAJOR.MINOR.PATCH"),
])
def test_a_missing_or_malformed_version_is_a_clear_error(repo: Path, config: str,
                                                         message: str) -> None:
    (repo / "copier.yml").write_text(config)
    commit_all(repo, "broken")
    with pytest.raises(TemplateVersionError) as caught:
        sync_template_tags(repo)
    assert message in str(caught.value)


def test_a_folder_that_is_not_a_repository_root_is_a_clear_error(repo: Path,
                                                                 tmp_path: Path) -> None:
    with pytest.raises(TemplateVersionError, match="is not a git repository: template "
                       "versions and updates come from its history"):
        sync_template_tags(tmp_path)
    with pytest.raises(TemplateVersionError, match="nowhere does not exist"):
        sync_template_tags(tmp_path / "nowhere")
    with pytest.raises(TemplateVersionError, match=r"is inside the git repository .*, not its "
                       r"root"):
        sync_template_tags(repo / "template")
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(TemplateVersionError, match=r"has no commits yet: commit copier\.yml"):
        sync_template_tags(empty)


def test_version_lines_as_written() -> None:
    assert read_version("a: 1\n_template_version: 0.3.0  # the version\n") == "0.3.0"
    assert read_version("_template_version: '0.3.0'\n") == "0.3.0"
    assert read_version("x_template_version: 1.0.0\n") is None


def test_this_repository_releases_its_template_properly() -> None:
    """The real copier.yml: a valid version with its CHANGELOG entry, and no template change
    committed after the commit that sets it (read from history; no tag is made here)."""
    version = read_version((REPO / "copier.yml").read_text())
    assert version is not None
    assert version in changelog_versions(REPO)
    derived = derive_versions(REPO)
    committed = read_version(git(REPO, "show", "HEAD:copier.yml"))
    assert committed in derived
    changed = git(REPO, "diff", "--name-only", derived[committed].sha, "HEAD", "--",
                  "copier.yml", "template").splitlines()
    assert changed == [], (f"template changed after v{committed}: raise _template_version "
                           "and add a CHANGELOG entry")
