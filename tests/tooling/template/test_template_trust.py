"""A template other than this repository's runs code only with --trust (real Copier, git).

The attack: a one-line change to a worker's answers file points ``_src_path`` at another
template whose next version has a ``_tasks`` entry; whoever runs ``workers update`` next
would run it. Without ``--trust`` the task never runs and the command says why and how;
with it, the update names the source first and runs it. This repository's own template
keeps running its migrations without ``--trust``
(``test_template.py::test_migration_runs_once_and_only_when_crossing_its_version``).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from workers_tooling.template._scaffold import new_worker

from .test_template import REPO, answers, commit_all, git
from .test_template import template_repo as template_repo  # a fixture

pytestmark = pytest.mark.timeout(300)


def task_template(root: Path, marker: Path) -> Path:
    """Another template, tagged v0.4.0 (no code) and v0.5.0 (a task that writes ``marker``)."""
    root.mkdir()
    config = (REPO / "copier.yml").read_text()
    config = re.sub(r"^_template_version: .*\n", "", config, flags=re.M)
    config = config.split("_migrations:")[0] + "\n# The questions." + config.split(
        "\n# The questions.", 1)[1]
    (root / "copier.yml").write_text(config)
    shutil.copytree(REPO / "template", root / "template")
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "v0.4.0", tag="v0.4.0")
    (root / "copier.yml").write_text(f'_tasks:\n  - "touch {marker}"\n' + config)
    (root / "template" / "NEWS.md").write_text("v0.5.0\n")
    commit_all(root, "v0.5.0", tag="v0.5.0")
    return root


@pytest.fixture
def pointed_elsewhere(template_repo: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """(repository, worker, marker): a worker of this repository's template whose answers
    file was then changed to name another template, at its v0.4.0, and committed."""
    marker = tmp_path / "task-ran"
    other = task_template(tmp_path / "other-template", marker)
    worker = new_worker(template_repo, answers=answers())
    answers_file = worker / ".copier-answers.yml"
    text = answers_file.read_text()
    text = re.sub(r"^_src_path: .*$", f"_src_path: {other}", text, flags=re.M)
    answers_file.write_text(re.sub(r"^_commit: .*$", "_commit: v0.4.0", text, flags=re.M))
    commit_all(template_repo, "a worker; then its answers file names another template")
    return template_repo, worker, marker


def test_update_without_trust_runs_nothing_and_says_why(
        pointed_elsewhere: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from workers_tooling.cli import main

    repo, worker, marker = pointed_elsewhere
    before = (worker / ".copier-answers.yml").read_text()
    code = main(["update", "email-sender", "--repo", str(repo)])
    out, err = capsys.readouterr()
    assert code != 0
    assert not marker.exists()
    assert (worker / ".copier-answers.yml").read_text() == before
    assert not (worker / "NEWS.md").exists()
    other = repo.parent / "other-template"
    assert err.strip() == (
        f"error: workers/email-sender/.copier-answers.yml: _src_path is '{other}' (not this "
        "repository's template); it runs code on update (tasks): check it, then workers "
        "update email-sender --trust")
    assert "updating" not in out


def test_check_update_reports_the_other_source(
        pointed_elsewhere: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from workers_tooling.cli import main

    repo, _, marker = pointed_elsewhere
    assert main(["check-update", "--repo", str(repo)]) == 1  # behind: v0.4.0 -> v0.5.0
    out, err = capsys.readouterr()
    other = repo.parent / "other-template"
    assert (f"workers/email-sender/.copier-answers.yml: _src_path is '{other}' (not this "
            "repository's template)") in err
    assert "behind email-sender: v0.4.0 -> v0.5.0" in out
    assert not marker.exists()


def test_update_with_trust_names_the_source_then_runs_it(
        pointed_elsewhere: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from workers_tooling.cli import main

    repo, worker, marker = pointed_elsewhere
    assert main(["update", "email-sender", "--trust", "--repo", str(repo)]) == 0
    out, _ = capsys.readouterr()
    other = repo.parent / "other-template"
    assert out.splitlines()[0] == (
        f"updating email-sender (v0.4.0 -> v0.5.0) from '{other}' (not this repository's "
        f"template: {other})")
    assert marker.exists()
    assert (worker / "NEWS.md").read_text() == "v0.5.0\n"


def test_new_from_another_template_runs_its_tasks_only_with_trust(
        template_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from workers_tooling.cli import main

    marker = tmp_path / "task-ran"
    other = task_template(tmp_path / "other-template", marker)
    command = ["new", "email-sender", "--topic", "send_email", "--template", str(other),
               "--repo", str(template_repo)]
    assert main(command) != 0
    _, err = capsys.readouterr()
    assert err.strip() == (
        f"error: --template is '{other}' (not this repository's template); it runs code on "
        "copy (tasks): check it, then run the same `workers new` with --trust")
    assert not marker.exists()
    assert not (template_repo / "workers" / "email-sender").exists()
    # v0.4.0 runs no code: no --trust needed
    assert main([*command, "--version", "v0.4.0", "--port", "8010"]) == 0
    shutil.rmtree(template_repo / "workers" / "email-sender")
    assert main([*command, "--trust"]) == 0
    assert marker.exists()


def test_copier_itself_refuses_what_the_check_missed(template_repo: Path,
                                                     tmp_path: Path) -> None:
    """The last guard: Copier runs with unsafe=False for a template not trusted, so a task
    the check above did not see (here: hidden from it on purpose) still does not run."""
    from workers_tooling.errors import ToolingError
    from workers_tooling.template import _scaffold

    marker = tmp_path / "task-ran"
    other = task_template(tmp_path / "other-template", marker)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_scaffold, "code_it_runs", lambda *args, **kwargs: [])
        with pytest.raises(ToolingError, match=r"unsafe feature: tasks\. .* with --trust$"):
            new_worker(template_repo, answers=answers(), template=str(other))
    assert not marker.exists()
    assert not (template_repo / "workers" / "email-sender").exists()


def test_no_worker_is_touched_when_one_template_is_not_trusted(
        pointed_elsewhere: tuple[Path, Path, Path]) -> None:
    """A worker of this repository's template, behind too, waits for the other one."""
    from workers_tooling.template._scaffold import update_workers
    from workers_tooling.template._trust import UntrustedTemplate

    from .test_template import evolve_template

    repo, _, marker = pointed_elsewhere
    own = new_worker(repo, answers={"name": "second", "topics": ["second"]})
    commit_all(repo, "a worker of this repository's template")
    evolve_template(repo, "v0.3.0")
    with pytest.raises(UntrustedTemplate, match="workers update email-sender --trust"):
        update_workers(repo)
    assert "_commit: v0.2.0" in (own / ".copier-answers.yml").read_text()
    assert not (own / "CONTRIBUTING.md").exists()
    assert not marker.exists()


def test_adopt_renders_another_template_with_its_extensions_only_with_trust(
        pointed_elsewhere: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """`workers adopt` renders each version (tasks skipped); Jinja extensions are code too."""
    from workers_tooling.cli import main

    repo, worker, _ = pointed_elsewhere
    other = repo.parent / "other-template"
    config = other / "copier.yml"
    config.write_text("_jinja_extensions:\n  - jinja2.ext.do\n" + config.read_text())
    commit_all(other, "v0.6.0: an extension", tag="v0.6.0")
    assert main(["adopt", "email-sender", "--repo", str(repo)]) == 1
    err = capsys.readouterr().err
    assert "unsafe feature: jinja_extensions." in err
    assert err.strip().endswith("run the command again with --trust")
    assert "_commit: v0.4.0" in (worker / ".copier-answers.yml").read_text()
    assert main(["adopt", "email-sender", "--trust", "--repo", str(repo)]) == 0
