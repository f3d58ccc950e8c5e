"""The Copier template with real Copier and real git, in temporary repositories.

Never depends on tags in this repository's own history: each test builds a template
repository from copier.yml and template/ and evolves it the way a release does (raise
``_template_version``, commit); the tags come from the product, never by hand, except for
the team's own template repository, which has real tags of its own.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from camunda_workers import SpecError, load_spec
from workers_tooling.cli import main
from workers_tooling.errors import ToolingError
from workers_tooling.template._scaffold import check_updates, new_worker, update_workers
from workers_tooling.template._trust import UntrustedTemplate

REPO = Path(__file__).resolve().parents[3]
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV})
    return done.stdout


def commit_all(repo: Path, message: str, tag: str | None = None) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message, "--allow-empty")
    if tag:
        git(repo, "tag", tag)


def set_template_version(repo: Path, version: str) -> None:
    config = repo / "copier.yml"
    config.write_text(re.sub(r"^_template_version: .*$", f"_template_version: {version}",
                             config.read_text(), count=1, flags=re.M))


def make_template_repo(root: Path, version: str = "0.2.0", *, commit: bool = True) -> Path:
    """A git repository holding this project's template at ``version``, with workers/
    (committed, unless the test changes it first)."""
    root.mkdir()
    shutil.copy(REPO / "copier.yml", root / "copier.yml")
    shutil.copytree(REPO / "template", root / "template")
    set_template_version(root, version)
    (root / "workers").mkdir()
    (root / "workers" / ".keep").write_text("")
    git(root, "init", "-q", "-b", "main")
    if commit:
        commit_all(root, f"template v{version}")
    return root


@pytest.fixture
def template_repo(tmp_path: Path) -> Path:
    """This project's template at version 0.2.0 in a repository of its own, with workers/."""
    return make_template_repo(tmp_path / "monorepo")


def answers(**extra: object) -> dict[str, object]:
    return {"name": "email-sender", "port": 8003, "topics": ["send_email", "notify_user"],
            **extra}


def run_in(folder: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)


def test_copy_renders_a_worker_that_passes_its_own_checks(template_repo: Path) -> None:
    worker = new_worker(template_repo, answers=answers(custom_dockerfile=True))
    assert worker == template_repo / "workers" / "email-sender"
    files = sorted(str(p.relative_to(worker)) for p in worker.rglob("*") if p.is_file())
    assert files == [".copier-answers.yml", "Dockerfile", "README.md", "main.py",
                     "pyproject.toml", "requirements.txt", "tests/conftest.py",
                     "tests/test_handlers.py", "worker.json"]
    spec = load_spec(worker / "worker.json")
    assert (spec.name, spec.port, spec.topics) == ("email-sender", 8003,
                                                   ["send_email", "notify_user"])
    recorded = (worker / ".copier-answers.yml").read_text()
    assert "_src_path: ../.." in recorded  # relative to the worker: see _scaffold
    assert "_commit: v0.2.0" in recorded  # a version, from the derived tag
    assert git(template_repo, "tag").split() == ["v0.2.0"]
    for command in ([sys.executable, "-m", "pytest", "-q"],
                    [str(Path(sys.executable).parent / "ruff"), "check", "."],
                    [str(Path(sys.executable).parent / "mypy"), "."]):
        done = run_in(worker, *command)
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"


def test_default_port_is_the_next_free_one(template_repo: Path) -> None:
    new_worker(template_repo, answers={"name": "first", "topics": ["a"]})
    second = new_worker(template_repo, answers={"name": "second", "topics": ["b"]})
    assert load_spec(second / "worker.json").port == 8002


@pytest.mark.parametrize(("bad", "message"), [
    ({"name": "Email_Sender"}, "answers: name: 'Email_Sender' must be kebab-case"),
    ({"name": "taken"}, "answers: name: workers/taken already exists; pick another name"),
    ({"port": 80}, "answers: port: Input should be greater than or equal to 1024"),
    ({"port": 8001}, "answers: port: 8001 is taken by workers/taken; the next free one is 8002"),
    ({"topics": ["Send-Email"]}, "answers: topics.0: 'Send-Email' must be snake_case"),
    ({"topics": []}, "answers: topics: List should have at least 1 item"),
])
def test_bad_answers_are_refused_and_nothing_is_written(
    template_repo: Path, bad: dict[str, object], message: str
) -> None:
    new_worker(template_repo, answers={"name": "taken", "port": 8001, "topics": ["x"]})
    before = sorted(p.name for p in (template_repo / "workers").iterdir())
    with pytest.raises(SpecError) as caught:
        new_worker(template_repo, answers=answers(**bad))
    assert message in str(caught.value)
    assert sorted(p.name for p in (template_repo / "workers").iterdir()) == before


def evolve_template(repo: Path, tag: str) -> None:
    """Template v-next, released as CHANGELOG.md says (version raised, one commit): Dockerfile
    changed, a file added, main.py edited at its end. A repository without
    ``_template_version`` (a team's own template) gets the tag by hand instead."""
    dockerfile = next((repo / "template").glob("*Dockerfile*"))
    dockerfile.write_text(dockerfile.read_text().replace(
        "STOPSIGNAL SIGTERM", "STOPSIGNAL SIGTERM\nLABEL org.opencontainers.image.vendor=us"))
    (repo / "template" / "CONTRIBUTING.md").write_text("Run the tests before you push.\n")
    main = repo / "template" / "main.py.jinja"
    entry = 'if __name__ == "__main__":'
    main.write_text(main.read_text().replace(entry, f"# Entry point: `python main.py`.\n{entry}"))
    versioned = "_template_version:" in (repo / "copier.yml").read_text()
    if versioned:
        set_template_version(repo, tag.removeprefix("v"))
    commit_all(repo, f"template {tag}", tag=None if versioned else tag)


def test_update_brings_template_changes_and_keeps_local_edits(template_repo: Path) -> None:
    worker = new_worker(template_repo, answers=answers(custom_dockerfile=True))
    main = worker / "main.py"
    main.write_text(main.read_text().replace(
        'return {"send_email_done": True}', 'return {"send_email_done": True, "mine": 1}'))
    spec = worker / "worker.json"
    spec.write_text(spec.read_text().replace('"environment": {}',
                                             '"environment": {"SMTP_HOST": "mail"}'))
    commit_all(template_repo, "worker edits")
    evolve_template(template_repo, "v0.3.0")
    assert [c.behind for c in check_updates(template_repo)] == [True]

    [result] = update_workers(template_repo)

    assert result.status == "updated"
    assert (result.from_commit, result.to_commit) == ("v0.2.0", "v0.3.0")
    text = main.read_text()
    assert '"mine": 1' in text  # local edit kept
    assert "# Entry point: `python main.py`." in text  # template edit arrived
    assert "LABEL org.opencontainers.image.vendor=us" in (worker / "Dockerfile").read_text()
    assert (worker / "CONTRIBUTING.md").exists()
    assert '"SMTP_HOST": "mail"' in spec.read_text()
    assert "_commit: v0.3.0" in (worker / ".copier-answers.yml").read_text()
    commit_all(template_repo, "updated")
    assert [c.behind for c in check_updates(template_repo)] == [False]
    assert update_workers(template_repo)[0].status == "current"


def test_conflicting_edit_is_reported_with_its_file(template_repo: Path) -> None:
    worker = new_worker(template_repo, answers=answers())
    main = worker / "main.py"
    main.write_text(main.read_text().replace(
        'if __name__ == "__main__":', '# our own entry comment\nif __name__ == "__main__":'))
    readme_edit = (worker / "README.md").read_text() + "\nOur notes.\n"
    (worker / "README.md").write_text(readme_edit)
    commit_all(template_repo, "worker edits")
    evolve_template(template_repo, "v0.3.0")

    [result] = update_workers(template_repo)

    assert result.status == "conflicts"
    assert result.conflicts == ["main.py"]
    assert "<<<<<<< before updating" in main.read_text()
    assert "# our own entry comment" in main.read_text()
    assert (worker / "README.md").read_text() == readme_edit  # nothing else lost


def test_a_conflict_in_one_worker_does_not_stop_the_next(template_repo: Path) -> None:
    """Copier marks an inline conflict as unmerged in git's index; the next worker of the
    same repository must still update, and both conflicts stay visible to git."""
    workers = [new_worker(template_repo, answers=answers(name=name, port=port, topics=[name]))
               for name, port in (("first", 8003), ("second", 8004))]
    for worker in workers:
        main = worker / "main.py"
        main.write_text(main.read_text().replace(
            'if __name__ == "__main__":', '# our own entry comment\nif __name__ == "__main__":'))
    commit_all(template_repo, "worker edits")
    evolve_template(template_repo, "v0.3.0")

    results = update_workers(template_repo)

    assert [(r.name, r.status, r.conflicts) for r in results] == [
        ("first", "conflicts", ["main.py"]), ("second", "conflicts", ["main.py"])]
    unmerged = git(template_repo, "diff", "--name-only", "--diff-filter=U")
    assert unmerged.split() == ["workers/first/main.py", "workers/second/main.py"]


@pytest.mark.parametrize("where", ["root", "worker", "workers", "elsewhere"])
def test_update_works_from_any_directory(template_repo: Path, where: str,
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         ) -> None:
    worker = new_worker(template_repo, answers=answers())
    commit_all(template_repo, "worker")
    evolve_template(template_repo, "v0.3.0")
    cwd = {"root": template_repo, "worker": worker, "workers": worker.parent,
           "elsewhere": tmp_path}[where]
    monkeypatch.chdir(cwd)
    assert update_workers(template_repo, ["email-sender"])[0].status == "updated"


def test_plain_copier_update_works_inside_the_worker_folder(template_repo: Path) -> None:
    worker = new_worker(template_repo, answers=answers())
    commit_all(template_repo, "worker")
    evolve_template(template_repo, "v0.3.0")
    # Plain Copier reads the tags as they are: a `workers` command (or `make setup`) after
    # the release derives the new one.
    assert main(["template-version", "--repo", str(template_repo)]) == 0
    done = run_in(worker, sys.executable, "-m", "copier", "update", "--defaults", "--trust")
    assert done.returncode == 0, done.stderr
    assert "_commit: v0.3.0" in (worker / ".copier-answers.yml").read_text()


@pytest.fixture
def tagged_template(tmp_path: Path) -> Path:
    """A team's own template repository: no _template_version, real tags made by hand."""
    repo = make_template_repo(tmp_path / "team-template")
    config = repo / "copier.yml"
    config.write_text(re.sub(r"^_template_version: .*\n", "", config.read_text(), flags=re.M))
    commit_all(repo, "our template", tag="v1.0.0")
    return repo


@pytest.mark.parametrize("kind", ["versioned path", "tagged path", "tagged URL"])
def test_team_repository_points_at_the_template(template_repo: Path, tagged_template: Path,
                                                tmp_path: Path, kind: str) -> None:
    source = template_repo if kind == "versioned path" else tagged_template
    given = f"git+{source.as_uri()}" if kind == "tagged URL" else str(source)
    team = tmp_path / "team"
    (team / "workers").mkdir(parents=True)
    git(team, "init", "-q", "-b", "main")
    worker = new_worker(team, answers=answers(), template=given)
    recorded = (worker / ".copier-answers.yml").read_text()
    assert f"_src_path: {given}" in recorded
    before = "v0.2.0" if kind == "versioned path" else "v1.0.0"
    assert f"_commit: {before}" in recorded
    main = worker / "main.py"
    main.write_text(main.read_text().replace("True}", "True, 'team': 1}", 1))
    commit_all(team, "our worker")
    after = "v0.3.0" if kind == "versioned path" else "v1.1.0"
    evolve_template(source, after)
    assert [(c.current, c.latest, c.behind, c.source) for c in check_updates(team)] == [
        (before, after, True, given)]
    # not this repository's template, and it has migrations: they run only if trusted
    with pytest.raises(UntrustedTemplate, match="it runs code on update"):
        update_workers(team)
    [result] = update_workers(team, trust=True)
    assert (result.status, result.from_commit, result.to_commit) == ("updated", before, after)
    assert "'team': 1" in main.read_text()
    assert (worker / "CONTRIBUTING.md").exists()
    assert f"_commit: {after}" in (worker / ".copier-answers.yml").read_text()


def test_a_template_without_versions_is_refused(tmp_path: Path) -> None:
    bare = make_template_repo(tmp_path / "bare")
    config = bare / "copier.yml"
    config.write_text(re.sub(r"^_template_version: .*\n", "", config.read_text(), flags=re.M))
    commit_all(bare, "no version, no tags")
    team = tmp_path / "team"
    (team / "workers").mkdir(parents=True)
    with pytest.raises(ToolingError, match=r"has no version tags \(vX\.Y\.Z\): tag a release"):
        new_worker(team, answers=answers(), template=str(bare))
    assert list((team / "workers").iterdir()) == []


def test_migration_runs_once_and_only_when_crossing_its_version(tmp_path: Path) -> None:
    # v0.1.0: the template before the rename (tests/test_main.py, no migration yet)
    template_repo = make_template_repo(tmp_path / "monorepo", version="0.1.0", commit=False)
    v2_config = (REPO / "copier.yml").read_text()
    tests = template_repo / "template" / "tests"
    (tests / "test_handlers.py.jinja").rename(tests / "test_main.py.jinja")
    before, after = v2_config.split("_migrations:")[0], v2_config.split("\n# The questions.", 1)[1]
    (template_repo / "copier.yml").write_text(f"{before}\n# The questions.{after}")
    set_template_version(template_repo, "0.1.0")
    commit_all(template_repo, "v0.1.0 as it was")
    worker = new_worker(template_repo, answers=answers(), vcs_ref="v0.1.0")
    edited = (worker / "tests" / "test_main.py").read_text() + "\n# our extra check\n"
    (worker / "tests" / "test_main.py").write_text(edited)
    commit_all(template_repo, "worker at v0.1.0")
    # v0.2.0: the rename, with its migration (this repository's template as it is)
    (tests / "test_main.py.jinja").rename(tests / "test_handlers.py.jinja")
    (template_repo / "copier.yml").write_text(v2_config)
    set_template_version(template_repo, "0.2.0")
    commit_all(template_repo, "v0.2.0")

    assert update_workers(template_repo)[0].to_commit == "v0.2.0"
    assert not (worker / "tests" / "test_main.py").exists()
    assert "# our extra check" in (worker / "tests" / "test_handlers.py").read_text()
    commit_all(template_repo, "worker at v0.2.0")

    # v0.3.0 does not cross v0.2.0: a new tests/test_main.py of ours stays put
    (worker / "tests" / "test_main.py").write_text("def test_ours() -> None:\n    pass\n")
    commit_all(template_repo, "our own test_main")
    evolve_template(template_repo, "v0.3.0")
    assert update_workers(template_repo)[0].to_commit == "v0.3.0"
    assert (worker / "tests" / "test_main.py").exists()


def test_unknown_worker_name_is_a_clear_error(template_repo: Path) -> None:
    with pytest.raises(ToolingError, match="no template-managed worker named nope"):
        update_workers(template_repo, ["nope"])


@pytest.fixture
def http_template(tagged_template: Path, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """The team's template served over HTTP (git's dumb protocol): (bare repo, URL)."""
    served = tmp_path / "served"
    bare = served / "template.git"
    git(tmp_path, "clone", "-q", "--bare", str(tagged_template), str(bare))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *args: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield bare, f"http://127.0.0.1:{server.server_address[1]}/template.git"
    finally:
        server.shutdown()
        server.server_close()


def publish(bare: Path, template: Path) -> None:
    """Push the template's new commits and tags to the served repository."""
    git(template, "push", "-q", "--tags", str(bare), "main")
    git(bare, "update-server-info")


def test_team_template_over_http(http_template: tuple[Path, str], tagged_template: Path,
                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPIER_CACHE_DIR", str(tmp_path / "copier-cache"))
    bare, url = http_template
    git(bare, "update-server-info")
    team = tmp_path / "team"
    (team / "workers").mkdir(parents=True)
    git(team, "init", "-q", "-b", "main")
    worker = new_worker(team, answers=answers(), template=url)
    recorded = (worker / ".copier-answers.yml").read_text()
    assert f"_src_path: {url}\n" in recorded
    assert "_commit: v1.0.0\n" in recorded
    commit_all(team, "our worker")
    evolve_template(tagged_template, "v1.1.0")
    publish(bare, tagged_template)
    assert [c.latest for c in check_updates(team)] == ["v1.1.0"]
    # fetched over HTTP to look: its migrations run only if trusted
    with pytest.raises(UntrustedTemplate, match=r"it runs code on update \(migrations\)"):
        update_workers(team)
    [result] = update_workers(team, trust=True)
    assert (result.status, result.to_commit) == ("updated", "v1.1.0")
    assert (worker / "CONTRIBUTING.md").exists()


def test_a_dirty_worker_stops_the_update_before_any_worker_is_touched(
        template_repo: Path) -> None:
    first = new_worker(template_repo, answers=answers())
    second = new_worker(template_repo, answers={"name": "second", "topics": ["second"]})
    commit_all(template_repo, "two workers")
    evolve_template(template_repo, "v0.3.0")
    (second / "README.md").write_text("ours, not committed\n")
    with pytest.raises(ToolingError, match="workers/second: has uncommitted changes"):
        update_workers(template_repo)
    assert "_commit: v0.2.0" in (first / ".copier-answers.yml").read_text()
    assert not (first / "CONTRIBUTING.md").exists()
    assert git(template_repo, "status", "--porcelain").strip() == "M workers/second/README.md"


def test_commands_use_the_version_of_this_branch_whatever_other_tags_exist(
        template_repo: Path) -> None:
    warnings: list[str] = []
    git(template_repo, "tag", "v9.0.0")  # e.g. a release tag of something else
    worker = new_worker(template_repo, answers=answers(), warn=warnings.append)
    assert "_commit: v0.2.0" in (worker / ".copier-answers.yml").read_text()
    assert len(warnings) == 1
    assert "a plain `copier update` would take v9.0.0 as the latest" in warnings[0]
    commit_all(template_repo, "worker")
    assert [(c.latest, c.behind) for c in check_updates(template_repo)] == [("v0.2.0", False)]
