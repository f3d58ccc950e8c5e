"""The template-version flow in fresh clones of this repository, made the way CI makes them.

No tags, commits that are not the developers' (one squashed commit), real git, the real
``workers`` and ``copier`` commands as a user runs them. Tags appear only when the product
derives them (``make setup``, or the first ``workers`` command that needs them).
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.tooling.fresh_clone import (
    BIN,
    clone,
    commit_all,
    git,
    next_minor,
    release,
    run,
    squashed_copy,
    tags,
    template_version,
    workers,
)

EXAMPLES = ("hello-world", "publicacao")
MIGRATION = ("python3 -c \"import pathlib; p = pathlib.Path('README.md'); "
             "p.write_text(p.read_text() + 'Migrated by the template.\\n')\"")


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree as the one squashed commit a CI clone sees."""
    return squashed_copy(tmp_path_factory.mktemp("origin") / "camunda-workers")


def recorded(worker: Path) -> str:
    match = re.search(r"^_commit: (\S+)$", (worker / ".copier-answers.yml").read_text(), re.M)
    assert match, f"{worker}: no _commit"
    return match.group(1)


def test_make_setup_derives_the_tags_a_fresh_clone_lacks(origin: Path, tmp_path: Path) -> None:
    repo = clone(origin, tmp_path / "clone")
    assert tags(repo) == {}
    venv = BIN.parent
    keep_venv = ("-o", f"{venv}/.installed")  # this test's .venv, as it is
    planned = run(repo, "make", "-n", "setup", f"VENV={venv}", *keep_venv).stdout
    assert f"{venv}/bin/workers template-version --quiet" in planned
    run(repo, "make", "template-tags", f"VENV={venv}", *keep_venv)
    version = template_version(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    assert [name for name in tags(repo)] == [f"v{version}"]
    assert tags(repo)[f"v{version}"].endswith(head)  # on the squashed commit
    for name in EXAMPLES:  # the example workers record that version: they are current
        assert recorded(repo / "workers" / name) == f"v{version}"
    shown = workers(repo, "template-version").stdout
    assert f"template version {version}" in shown
    assert f"v{version}  {head[:12]}  present" in shown


def test_make_setup_still_works_in_a_copy_without_git(origin: Path, tmp_path: Path) -> None:
    copy = tmp_path / "download"
    shutil.copytree(origin, copy, ignore=shutil.ignore_patterns(".git"))
    venv = BIN.parent
    done = run(copy, "make", "template-tags", f"VENV={venv}", "-o", f"{venv}/.installed")
    assert "is not a git repository: template versions and updates come from its history" \
        in done.stderr
    assert "make: no template tags (see above)" in done.stdout


def test_same_tags_on_the_same_commits_in_every_clone(origin: Path, tmp_path: Path) -> None:
    upstream = clone(origin, tmp_path / "upstream")
    first = git(upstream, "rev-parse", "HEAD").strip()
    version, bumped = template_version(upstream), next_minor(template_version(upstream))
    second = release(upstream, bumped, change="A comment about the entry point.")
    git(upstream, "commit", "-qm", "unrelated work", "--allow-empty")
    one, two = clone(upstream, tmp_path / "one"), clone(upstream, tmp_path / "two")
    workers(one, "check-update", check=1)  # the first command that needs them derives them
    workers(two, "template-version")
    assert tags(one) == tags(two)
    assert tags(one)[f"v{version}"].endswith(first)
    assert tags(one)[f"v{bumped}"].endswith(second)


def test_check_update_update_copier_update_and_new_in_a_fresh_clone(origin: Path,
                                                                    tmp_path: Path) -> None:
    repo = clone(origin, tmp_path / "clone")
    version = template_version(repo)
    hello = repo / "workers" / "hello-world"
    main = hello / "main.py"
    main.write_text(main.read_text().replace('"world"', '"everyone"'))  # an edit of ours
    commit_all(repo, "hello-world greets everyone")
    assert workers(repo, "check-update").stdout.splitlines() == [
        f"current {name}: v{version}" for name in EXAMPLES]

    # A release with a real change and a migration step, as CHANGELOG.md says.
    bumped = next_minor(version)
    release(repo, bumped, change="Entry point: `python main.py`.", migration=MIGRATION)
    checked = workers(repo, "check-update", check=1).stdout
    assert checked.splitlines() == [f"behind {name}: v{version} -> v{bumped}"
                                    for name in EXAMPLES]
    updated = workers(repo, "update", "--all").stdout
    assert updated.splitlines() == [  # each source named before it runs, then the results
        *(f"updating {name} (v{version} -> v{bumped}) from {repo.resolve()} (this "
          "repository's template)" for name in EXAMPLES),
        *(f"updated {name} (v{version} -> v{bumped})" for name in EXAMPLES)]
    for name in EXAMPLES:
        worker = repo / "workers" / name
        assert recorded(worker) == f"v{bumped}"
        assert "# Entry point: `python main.py`." in (worker / "main.py").read_text()
        assert (worker / "README.md").read_text().count("Migrated by the template.") == 1
    assert '"everyone"' in main.read_text()  # our edit stayed
    assert "log.info(" in main.read_text()  # and the handler of its own
    commit_all(repo, "workers on the new template version")
    workers(repo, "check-update")

    # The next release, taken with a plain `copier update` inside the worker's folder
    # (after a `workers` command, which derives the new tag).
    newest = next_minor(bumped)
    release(repo, newest, change="Run it with CAMUNDA_URL set.")
    workers(repo, "template-version")
    run(hello, str(BIN / "copier"), "update", "--trust", "--defaults")
    assert recorded(hello) == f"v{newest}"
    assert "# Run it with CAMUNDA_URL set." in main.read_text()
    assert '"everyone"' in main.read_text()
    assert (hello / "README.md").read_text().count("Migrated by the template.") == 1  # once
    commit_all(repo, "hello-world on the newest template")
    assert workers(repo, "check-update", check=1).stdout.splitlines() == [
        f"current hello-world: v{newest}", f"behind publicacao: v{bumped} -> v{newest}"]

    # A new worker records the newest version and runs its own tests.
    created = workers(repo, "new", "email-sender", "--topic", "send_email").stdout
    assert f"(template v{newest})" in created
    sender = repo / "workers" / "email-sender"
    assert recorded(sender) == f"v{newest}"
    run(sender, sys.executable, "-m", "pytest", "-q")


def test_rewritten_history_gets_its_tags_back(origin: Path, tmp_path: Path) -> None:
    upstream = clone(origin, tmp_path / "upstream")
    version = template_version(upstream)
    bumped = next_minor(version)
    release(upstream, bumped, change="A comment about the entry point.")
    workers(upstream, "update", "publicacao")  # hello-world stays on the older version
    commit_all(upstream, "publicacao on the new version")
    local = clone(upstream, tmp_path / "local")
    workers(local, "template-version")
    before = tags(local)

    # Upstream rebases (new committer date: every commit is new); the local clone pulls.
    git(upstream, "rebase", "-q", "--root", "--force-rebase",
        env={"GIT_COMMITTER_DATE": "2026-02-02T00:00:00Z"})
    git(local, "fetch", "-q", str(upstream), "main")
    git(local, "reset", "-q", "--hard", "FETCH_HEAD")
    shown = workers(local, "template-version").stdout
    assert f"v{version}" in shown
    assert f"v{bumped}" in shown
    assert "moved" in shown
    after = tags(local)
    assert after.keys() == before.keys()
    assert after != before
    fresh = clone(upstream, tmp_path / "fresh")
    workers(fresh, "template-version")
    assert tags(fresh) == after  # a fresh clone derives exactly the same

    # Squashed into one commit: only the newest version is left. hello-world records the
    # older one: a clear error naming the worker, the ref and the command that fixes it.
    git(upstream, "reset", "-q", "--soft", git(upstream, "rev-list", "--max-parents=0",
                                               "HEAD").strip())
    git(upstream, "commit", "-q", "--amend", "-m", "squashed again")
    squashed = clone(upstream, tmp_path / "squashed")
    failed = workers(squashed, "update", "--all", check=1)
    assert failed.stdout == ""
    assert (f"workers/hello-world/.copier-answers.yml records the template ref 'v{version}', "
            f"which the template {squashed} does not have") in failed.stderr
    assert "Run `workers adopt hello-world`" in failed.stderr
    assert "publicacao" not in failed.stderr
    workers(squashed, "check-update", check=1)
    adopted = workers(squashed, "adopt", "hello-world").stdout
    assert f"recorded v{bumped} in workers/hello-world/.copier-answers.yml (was v{version})" \
        in adopted
    commit_all(squashed, "hello-world adopts the version its files match")
    assert workers(squashed, "update", "--all").stdout.splitlines() == [
        f"current hello-world (v{bumped})", f"current publicacao (v{bumped})"]
