"""Results remembered between runs (workers_tooling._memo) answer only for the same files,
code and arguments: `workers list`, `discover` and a no-change `compose` print the same
with the cache as without it; a changed file (even of the same size and modification
time) is seen; a corrupt or foreign cache file is ignored; failures are never kept."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from workers_tooling import _memo, compose_stack

from .helpers import build_file_tree, make_repo, run_cli, worker_files


def _repo(root: Path) -> Path:
    return make_repo(root, worker_files("alpha", 8001), worker_files("beta", 8002))


def _rewrite_keeping_stat(path: Path, old: str, new: str) -> None:
    """Change the file's content but not its size nor its modification time."""
    assert len(old) == len(new)
    status = path.stat()
    path.write_text(path.read_text().replace(old, new))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert path.stat().st_size == status.st_size


def _outputs(capsys: pytest.CaptureFixture[str], repo: Path) -> list[tuple[int, str, str]]:
    return [run_cli(capsys, *command, "--repo", str(repo))
            for command in (["list"], ["discover"], ["discover", "--json"], ["compose"],
                            ["compose", "--check"])]


def test_the_same_output_with_and_without_the_cache(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path / "repo")
    run_cli(capsys, "compose", "--repo", str(repo))  # the stack file, written once
    cold = _outputs(capsys, repo)
    assert _memo.cache_file(repo, "summaries").is_file()
    assert _memo.cache_file(repo, "compose").is_file()
    warm = _outputs(capsys, repo)
    monkeypatch.setenv("WORKERS_NO_CACHE", "1")
    off = _outputs(capsys, repo)
    assert cold == warm == off
    assert [code for code, _, _ in warm] == [0] * 5
    assert "alpha  port 8001" in warm[1][1]
    assert ": up to date" in warm[4][1]


@pytest.mark.parametrize("command", ["list", "discover", "compose"])
def test_a_changed_worker_json_is_seen(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      command: str) -> None:
    repo = _repo(tmp_path / "repo")
    run_cli(capsys, "compose", "--repo", str(repo))
    for _ in range(2):  # the second run answers from the cache
        assert run_cli(capsys, command, "--repo", str(repo))[0] == 0
    _rewrite_keeping_stat(repo / "workers/beta/worker.json", "8002", "8001")
    code, out, err = run_cli(capsys, command, "--repo", str(repo))
    assert code == 2, out
    assert "8001" in err
    assert "workers/beta/worker.json" in err
    code, out, err = run_cli(capsys, command, "--repo", str(repo))  # failures are not kept
    assert code == 2
    assert "8001" in err


def test_a_changed_handler_is_seen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path / "repo")
    assert run_cli(capsys, "discover", "--repo", str(repo))[0] == 0
    assert run_cli(capsys, "discover", "--repo", str(repo))[0] == 0
    _rewrite_keeping_stat(repo / "workers/beta/main.py", "'beta'", "'bet2'")
    code, _, err = run_cli(capsys, "discover", "--repo", str(repo))
    assert code == 2
    assert "'bet2' is served by workers/beta/main.py" in err


def test_a_compose_that_changes_the_file_is_not_answered_from_the_cache(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path / "repo")
    run_cli(capsys, "compose", "--repo", str(repo))
    run_cli(capsys, "compose", "--repo", str(repo))  # kept: unchanged
    _rewrite_keeping_stat(repo / "workers/beta/worker.json", '"1.0.0"', '"1.0.1"')
    code, out, _ = run_cli(capsys, "compose", "--repo", str(repo), "--check")
    assert code == 1
    assert "workers-beta:${TAG:-1.0.1}" in out
    stack = repo / "docker-compose.swarm.yml"
    stack.write_text(stack.read_text() + "# a comment of the user's\n")
    code, out, _ = run_cli(capsys, "compose", "--repo", str(repo))
    assert code == 0
    assert "updated: beta" in out
    assert "# a comment of the user's" in stack.read_text()


@pytest.mark.parametrize("content", [b"", b"{not json", b"[]", b'{"format": 1}',
                                     b'{"format": 1, "key": 3, "value": 4}', b"\xff\xfe"])
def test_a_corrupt_cache_is_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    content: bytes) -> None:
    repo = _repo(tmp_path / "repo")
    run_cli(capsys, "compose", "--repo", str(repo))
    expected = _outputs(capsys, repo)
    for kind in ("summaries", "compose"):
        _memo.cache_file(repo, kind).write_bytes(content)
    assert _outputs(capsys, repo) == expected


def test_a_kept_result_of_another_key_is_not_used(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path / "repo")
    assert run_cli(capsys, "discover", "--repo", str(repo))[0] == 0
    path = _memo.cache_file(repo, "summaries")
    kept = json.loads(path.read_text())
    kept["key"] = "0" * 64
    kept["value"] = [{"name": "ghost", "port": 1, "path": "workers/ghost"}]
    path.write_text(json.dumps(kept))
    code, out, _ = run_cli(capsys, "discover", "--repo", str(repo))
    assert code == 0
    assert "ghost" not in out
    assert "alpha" in out


def test_nothing_is_written_with_the_cache_off(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        own_cache: Path) -> None:
    monkeypatch.setenv("WORKERS_NO_CACHE", "1")
    repo = _repo(tmp_path / "repo")
    _outputs(capsys, repo)
    assert not list(own_cache.rglob("*.json"))


def test_the_fingerprint_of_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "workers"
    (root / "a").mkdir(parents=True)
    (root / "a" / "worker.json").write_text("{}")
    first = _memo.tree_fingerprint(root)
    assert first is not None
    assert first == _memo.tree_fingerprint(root)
    (root / "a" / "__pycache__").mkdir()  # what a test run leaves changes nothing
    (root / "a" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    assert _memo.tree_fingerprint(root) == first
    (root / "a" / "empty").mkdir()  # a new folder, even empty, does
    assert _memo.tree_fingerprint(root) not in (None, first)
    (root / "a" / "empty").rmdir()
    (root / "b.json").write_text("")  # a new empty file does
    assert _memo.tree_fingerprint(root) not in (None, first)
    (root / "b.json").unlink()
    (root / "a" / "worker.json").write_text("{ }")
    assert _memo.tree_fingerprint(root) not in (None, first)
    (root / "link").symlink_to(tmp_path, target_is_directory=True)  # content elsewhere
    assert _memo.tree_fingerprint(root) is None
    (root / "link").unlink()
    monkeypatch.setattr(_memo, "MAX_FILES", 0)  # too big to be worth hashing
    assert _memo.tree_fingerprint(root) is None
    assert _memo.tree_fingerprint(tmp_path / "none").endswith("-absent")


def test_a_changed_monitoring_source_is_seen(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The monitoring services' image tags hash files of deploy/, sdk/ and tooling/."""
    repo = _repo(tmp_path / "repo")
    build_file_tree(repo, {"sdk/src/camunda_workers/errors.py": "# one\n",
                           "deploy/monitoring/prometheus.yml": "global: {}\n"})
    assert run_cli(capsys, "compose", "--repo", str(repo), "--monitoring")[0] == 0
    for _ in range(2):  # kept, then answered from the cache
        code, out, _ = run_cli(capsys, "compose", "--repo", str(repo), "--check")
        assert code == 0
        assert ": up to date" in out
    for source in ("sdk/src/camunda_workers/errors.py", "deploy/monitoring/prometheus.yml"):
        _rewrite_keeping_stat(repo / source, "o", "0")
        code, out, _ = run_cli(capsys, "compose", "--repo", str(repo), "--check")
        assert code == 1, source
        assert "workers-backlog:" in out or "workers-monitoring:" in out
        run_cli(capsys, "compose", "--repo", str(repo))


def test_remember_false_composes_and_keeps_nothing(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    compose_stack(repo)
    for _ in range(2):
        assert not compose_stack(repo, remember=False).changed
    assert not _memo.cache_file(repo, "compose").exists()
    assert not compose_stack(repo).changed
    assert _memo.cache_file(repo, "compose").is_file()
