"""`workers new`, `update`, `check-update`: exit codes and messages (one error mapping)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tooling.test_template import commit_all, evolve_template, template_repo
from workers_tooling.cli import main

__all__ = ["template_repo"]  # the fixture, shared


def test_new_then_update_and_check(template_repo: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    repo = str(template_repo)
    assert main(["new", "email-sender", "--topic", "send_email", "--repo", repo]) == 0
    assert "created" in capsys.readouterr().out
    commit_all(template_repo, "worker")
    assert main(["check-update", "--repo", repo]) == 0
    evolve_template(template_repo, "v0.3.0")
    assert main(["check-update", "--repo", repo]) == 2
    assert "behind email-sender: 0.2.0 (latest 0.3.0)" in capsys.readouterr().out
    assert main(["update", "--all", "--repo", repo]) == 0
    assert "updated email-sender (v0.2.0 -> v0.3.0)" in capsys.readouterr().out


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
    err = capsys.readouterr().err
    assert "workers/email-sender: update failed: Destination repository is dirty" in err
    assert "Please commit or stash your local changes" in err
