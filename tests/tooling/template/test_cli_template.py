"""`workers new`, `update`, `check-update`: exit codes and messages (one error mapping)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tooling.template.test_template import commit_all, evolve_template, git, template_repo
from workers_tooling.cli import main

__all__ = ["template_repo"]  # the fixture, shared


def test_new_then_update_and_check(template_repo: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    repo = str(template_repo)
    assert main(["new", "email-sender", "--topic", "send_email", "--repo", repo]) == 0
    assert capsys.readouterr().out == (
        f"created {template_repo}/workers/email-sender (template v0.2.0)\n"
        "Next:\n"
        "  workers run email-sender --reload                 # run it against the local "
        "engine\n"
        "  (cd workers/email-sender && ../../.venv/bin/pytest -q)  # its own tests\n"
        "  workers deploy --env local                  # the stack on the local Swarm\n")
    commit_all(template_repo, "worker")
    assert main(["check-update", "--repo", repo]) == 0
    assert capsys.readouterr().out == "current email-sender: v0.2.0\n"
    evolve_template(template_repo, "v0.3.0")
    assert main(["check-update", "--repo", repo]) == 1
    assert capsys.readouterr().out == "behind email-sender: v0.2.0 -> v0.3.0\n"
    assert main(["update", "email-sender", "--version", "v0.3.0", "--repo", repo]) == 0
    assert capsys.readouterr().out == (
        f"updating email-sender (v0.2.0 -> v0.3.0) from {template_repo.resolve()} (this "
        "repository's template)\nupdated email-sender (v0.2.0 -> v0.3.0)\n")
    commit_all(template_repo, "updated")
    assert main(["update", "--all", "--repo", repo]) == 0
    assert capsys.readouterr().out == "current email-sender (v0.3.0)\n"


def test_bad_answers_exit_2_listing_every_problem(template_repo: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["new", "Email_Sender", "--topic", "Send-Email", "--port", "80",
                 "--repo", str(template_repo)])
    assert code == 2
    err = capsys.readouterr().err
    assert "answers: name: 'Email_Sender' must be kebab-case" in err
    assert "answers: port: Input should be greater than or equal to 1024" in err
    assert "answers: topics.0: 'Send-Email' must be snake_case" in err
    assert not (template_repo / "workers" / "Email_Sender").exists()


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "--port", "many"]) == 2
    assert "Invalid value for '--port'" in capsys.readouterr().err


def test_missing_topic_says_how(template_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "x", "--repo", str(template_repo)]) == 1
    assert "give NAME and at least one --topic, or use --interactive" in capsys.readouterr().err


def test_conflicts_exit_1_and_name_the_file(template_repo: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    repo = str(template_repo)
    assert main(["new", "email-sender", "--topic", "send_email", "--repo", repo]) == 0
    main_py = template_repo / "workers" / "email-sender" / "main.py"
    main_py.write_text(main_py.read_text().replace(
        'if __name__ == "__main__":', '# ours\nif __name__ == "__main__":'))
    commit_all(template_repo, "edit")
    evolve_template(template_repo, "v0.3.0")
    assert main(["update", "email-sender", "--repo", repo]) == 1
    assert "conflicts email-sender (v0.2.0 -> v0.3.0): main.py" in capsys.readouterr().out


def test_dirty_worker_is_refused_with_a_hint(template_repo: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    repo = str(template_repo)
    assert main(["new", "email-sender", "--topic", "send_email", "--repo", repo]) == 0
    commit_all(template_repo, "worker")
    evolve_template(template_repo, "v0.3.0")
    (template_repo / "workers" / "email-sender" / "main.py").write_text("# uncommitted\n")
    assert main(["update", "--all", "--repo", repo]) == 1
    assert capsys.readouterr().err == (
        "error: workers/email-sender: has uncommitted changes; commit or stash them first\n")


def test_template_version_prints_the_version_and_the_tags_it_derived(
        template_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = str(template_repo)
    head = git(template_repo, "rev-parse", "HEAD").strip()
    assert main(["template-version", "--repo", repo]) == 0
    assert capsys.readouterr().out == (f"template version 0.2.0 (copier.yml _template_version)\n"
                                       f"  v0.2.0  {head[:12]}  created\n")
    assert main(["template-version", "--quiet", "--repo", repo]) == 0
    assert capsys.readouterr().out == ""  # nothing created or moved
    (template_repo / "CHANGELOG.md").write_text("# Changelog\n\n## v0.1.0\n")
    commit_all(template_repo, "a changelog without v0.2.0")
    assert main(["template-version", "--check", "--repo", repo]) == 1
    assert ("warning: CHANGELOG.md has no entry for v0.2.0: add a `## v0.2.0` section"
            in capsys.readouterr().err)


def test_a_recorded_ref_that_does_not_exist_names_worker_ref_and_fix(
        template_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = str(template_repo)
    assert main(["new", "email-sender", "--topic", "send_email", "--repo", repo]) == 0
    answers = template_repo / "workers" / "email-sender" / ".copier-answers.yml"
    answers.write_text(answers.read_text().replace("_commit: v0.2.0", "_commit: '4338453'"))
    commit_all(template_repo, "a worker made before versions were kept in the tree")
    capsys.readouterr()
    for command in (["check-update"], ["update", "--all"], ["update", "email-sender"]):
        assert main([*command, "--repo", repo]) == 1
        out, err = capsys.readouterr()
        assert out == ""
        assert err.startswith("error: the template version some workers record cannot be "
                              "found:\nworkers/email-sender/.copier-answers.yml records the "
                              "template ref '4338453', which the template ")
        assert "Run `workers adopt email-sender` to record the version its files match" in err
    assert main(["adopt", "email-sender", "--repo", repo]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "  v0.2.0: 0 line(s) differ from workers/email-sender",
        "recorded v0.2.0 in workers/email-sender/.copier-answers.yml (was 4338453)",
        "commit it; it is current"]
    assert "_commit: v0.2.0\n" in answers.read_text()
    commit_all(template_repo, "adopted")
    assert main(["check-update", "--repo", repo]) == 0


def test_adopt_picks_the_version_the_files_match(template_repo: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    repo = str(template_repo)
    assert main(["new", "email-sender", "--topic", "send_email", "--repo", repo]) == 0
    commit_all(template_repo, "worker at v0.2.0")
    evolve_template(template_repo, "v0.3.0")
    evolve_template(template_repo, "v0.4.0")
    answers = template_repo / "workers" / "email-sender" / ".copier-answers.yml"
    answers.write_text(answers.read_text().replace("_commit: v0.2.0", "_commit: abc1234"))
    commit_all(template_repo, "lost its version")
    capsys.readouterr()
    assert main(["adopt", "email-sender", "--repo", repo]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "  v0.2.0: 0 line(s) differ from workers/email-sender"
    assert lines[3:] == [
        "recorded v0.2.0 in workers/email-sender/.copier-answers.yml (was abc1234)",
        "commit it; then `workers update email-sender` brings v0.4.0"]
    assert main(["adopt", "email-sender", "v0.3.0", "--repo", repo]) == 0
    assert "_commit: v0.3.0\n" in answers.read_text()
    assert main(["adopt", "email-sender", "9.9.9", "--repo", repo]) == 1
    assert ("error: '9.9.9' is not a version of the template " in capsys.readouterr().err)


@pytest.mark.parametrize("ref", ["HEAD", "main", "0123abc"])
def test_new_records_versions_only(template_repo: Path, capsys: pytest.CaptureFixture[str],
                                   ref: str) -> None:
    code = main(["new", "email-sender", "--topic", "send_email", "--vcs-ref", ref,
                 "--repo", str(template_repo)])
    assert code == 1
    assert (f"error: {ref!r} is not a version of the template {template_repo}; known: v0.2.0 "
            "(a version, never a commit: answers files record versions)"
            in capsys.readouterr().err)
    assert not (template_repo / "workers" / "email-sender").exists()


def test_without_git_the_commands_say_so(template_repo: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(template_repo / "no-such-bin"))
    for command in (["template-version"], ["new", "email-sender", "--topic", "send_email"]):
        assert main([*command, "--repo", str(template_repo)]) == 3  # a missing program
        assert capsys.readouterr().err == (
            "error: git is not installed: template versions come from the repository's "
            "history; install git\n")
    assert not (template_repo / "workers" / "email-sender").exists()


def test_check_update_names_an_answer_that_worker_json_no_longer_agrees_with(
        template_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A hand-edited port: the README keeps the answer, and `workers update` keeps it so."""
    repo = str(template_repo)
    assert main(["new", "email-sender", "--topic", "send_email", "--repo", repo]) == 0
    worker = template_repo / "workers" / "email-sender"
    spec = worker / "worker.json"
    spec.write_text(spec.read_text().replace('"port": 8001', '"port": 8009'))
    commit_all(template_repo, "worker, its port edited by hand")
    capsys.readouterr()
    assert main(["check-update", "--repo", repo]) == 1
    assert capsys.readouterr().out == (
        "current email-sender: v0.2.0\n"
        "differs workers/email-sender/.copier-answers.yml: port: answer 8001, worker.json 8009 "
        "(README.md still say 8001); to keep 8009 set `port: 8009` in .copier-answers.yml and "
        "edit README.md by hand (`workers update` will not), or put 8001 back in worker.json\n")
    # The fix as said, and the update that would not have made it.
    answers = worker / ".copier-answers.yml"
    answers.write_text(answers.read_text().replace("port: 8001", "port: 8009"))
    commit_all(template_repo, "the port's answer")
    evolve_template(template_repo, "v0.3.0")
    assert main(["update", "email-sender", "--repo", repo]) == 0
    assert "on port 8001" in (worker / "README.md").read_text()
    assert main(["check-update", "--repo", repo]) == 0
    assert capsys.readouterr().out.endswith("current email-sender: v0.3.0\n")
