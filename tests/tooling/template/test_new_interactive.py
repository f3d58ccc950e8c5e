"""`workers new -i` in a real terminal (tmux): defaults offered, each answer checked against
the repository as it is given (name taken, port used with the next free one, topic served
elsewhere) and re-asked, Ctrl-C leaves nothing and prints one line."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import IN_CI, REPO

pytestmark = pytest.mark.slow


def _tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    if shutil.which("tmux") is None:
        if IN_CI:
            pytest.fail("tmux is missing (apt-get install tmux)")
        pytest.skip("tmux is missing")
    clone = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    session = f"cw-new-{os.getpid()}"
    command = (f"{shlex.quote(sys.executable)} -m workers_tooling.cli new -i --repo "
               f"{shlex.quote(str(clone))}; echo EXIT=$?; sleep 120")
    _tmux("new-session", "-d", "-s", session, "-x", "220", "-y", "50", command)
    try:
        yield session, clone
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def _screen(session: str) -> str:
    return _tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", session)


def _wait_for(session: str, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = _screen(session)
        if text in screen:
            return screen
        time.sleep(0.3)
    raise AssertionError(f"{text!r} not on the screen within {timeout}s:\n{_screen(session)}")


def _answer(session: str, text: str) -> None:
    _tmux("send-keys", "-t", session, "C-u")  # clear the default offered
    _tmux("send-keys", "-t", session, "-l", text)
    _tmux("send-keys", "-t", session, "Enter")


def test_answers_are_checked_as_given_and_ctrl_c_leaves_nothing(
        terminal: tuple[str, Path]) -> None:
    session, clone = terminal
    _wait_for(session, "Worker name, kebab-case")
    _answer(session, "hello-world")
    _wait_for(session, "'hello-world' is taken (workers/hello-world exists")
    _answer(session, "email-sender")
    screen = _wait_for(session, "One line saying what the worker does")
    assert "A camunda-workers external-task worker." in screen  # the default, offered
    _tmux("send-keys", "-t", session, "Enter")
    screen = _wait_for(session, "Port of /metrics")
    assert screen.rstrip().endswith("8003")  # the next free port, offered
    _answer(session, "8001")
    _wait_for(session, "port 8001 is taken by workers/hello-world; the next free one is 8003")
    _answer(session, "8003")
    screen = _wait_for(session, "External-task topics it serves")
    assert screen.rstrip().endswith("[email_sender]")
    _answer(session, "[say_hello]")
    _wait_for(session, "topic 'say_hello' is served by workers/hello-world")
    _tmux("send-keys", "-t", session, "C-c")
    screen = _wait_for(session, "EXIT=130")
    print(f"\n[tmux] the session:\n{screen.rstrip()}")
    tail = screen[screen.rindex("[say_hello]"):]
    assert "AnswersMap" not in screen
    assert [line for line in tail.splitlines()[1:] if line.strip()] == [
        "interrupted", "EXIT=130"], tail
    assert sorted(p.name for p in (clone / "workers").iterdir()) == [
        "Dockerfile", "common", "hello-world", "publicacao", "worker.schema.json"]
    status = subprocess.run(["git", "-C", str(clone), "status", "--porcelain"],
                            capture_output=True, text=True, check=True).stdout
    assert status == ""
