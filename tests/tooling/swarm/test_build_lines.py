"""How a build's output reaches the caller, without Docker: the engine's JSON stream cut
into whole lines, one report per line under the image's name, and a failure that names the
step and carries its last lines; the wheelhouse script's lines as it prints them."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from workers_tooling.errors import BuildFailed, ToolingError
from workers_tooling.swarm._images import _build, ensure_wheelhouse


class _Api:
    """The part of ``docker.APIClient`` a build uses: ``build(..., decode=True)``."""

    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.chunks = chunks
        self.asked: dict[str, Any] = {}

    def build(self, **options: Any) -> Iterator[dict[str, Any]]:
        self.asked = options
        yield from self.chunks


class _Client:
    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.api = _Api(chunks)


def _run(chunks: list[dict[str, Any]], tmp_path: Path) -> tuple[list[tuple[str, str]], str]:
    lines: list[tuple[str, str]] = []
    image_id = _build(_Client(chunks), "hello", tmp_path, tmp_path / "Dockerfile", {}, "x:1",
                      lambda source, line: lines.append((source, line)))
    return lines, image_id


def test_each_line_is_reported_once_whole_however_the_stream_cuts_it(tmp_path: Path) -> None:
    lines, image_id = _run([
        {"stream": "Step 1/2 : FROM base\n"},
        {"stream": " ---> 1234\n"},
        {"stream": "Step 2/2 : RUN pip install\n ---> Running in 99\n"},
        {"stream": "Collecting re"},  # a line in two chunks
        {"stream": "quests\nDownloading 10%\rDownloading 100%\n"},  # a progress bar
        {"stream": "\n"},
        {"aux": {"ID": "sha256:abc"}},
        {"stream": "Successfully built abc"},  # no newline at the end of the stream
    ], tmp_path)
    assert image_id == "sha256:abc"
    assert lines == [("hello", line) for line in (
        "Step 1/2 : FROM base", " ---> 1234", "Step 2/2 : RUN pip install",
        " ---> Running in 99", "Collecting requests", "Downloading 100%",
        "Successfully built abc")]


def test_a_failed_step_is_named_and_its_last_lines_kept(tmp_path: Path) -> None:
    chunks: list[dict[str, Any]] = [
        {"stream": "Step 1/2 : FROM base\n"}, {"stream": "earlier step\n"},
        {"stream": "Step 2/2 : RUN make\n"}, {"stream": " ---> Running in 77\n"},
        *({"stream": f"line {n}\n"} for n in range(40)),
        {"stream": "make: *** [all] Error 2"},  # its end never comes: the error does
        {"stream": "\nRemoving intermediate container 77\n"},
        {"error": "The command '/bin/sh -c make' returned a non-zero code: 2",
         "errorDetail": {"code": 2}},
    ]
    with pytest.raises(BuildFailed) as caught:
        _run(chunks, tmp_path)
    assert str(caught.value) == ("hello: image build failed at Step 2/2 : RUN make: The "
                                 "command '/bin/sh -c make' returned a non-zero code: 2")
    assert caught.value.output[-1] == "make: *** [all] Error 2"
    assert len(caught.value.output) == 30  # the last ones; the step's only, no bookkeeping
    assert caught.value.output[0] == "line 11"


def _script(repo: Path, body: str) -> None:
    script = repo / "scripts" / "wheelhouse.sh"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_the_wheelhouse_lines_come_as_the_script_prints_them(tmp_path: Path) -> None:
    _script(tmp_path, "echo '[wheelhouse] building'\nsleep 1\necho '[wheelhouse] done'\n")
    seen: list[tuple[float, str, str]] = []
    ensure_wheelhouse(tmp_path, lambda source, line: seen.append((time.monotonic(), source,
                                                                  line)))
    finished = time.monotonic()
    assert [(source, line) for _, source, line in seen] == [("wheelhouse", "building"),
                                                            ("wheelhouse", "done")]
    assert finished - seen[0][0] >= 0.8  # the first line came before the script ended


def test_a_failed_wheelhouse_says_what_the_script_said_last(tmp_path: Path) -> None:
    _script(tmp_path, "echo '[wheelhouse] fetching'\n"
                      "echo '[wheelhouse] ERROR: no python3 found' >&2\nexit 4\n")
    with pytest.raises(ToolingError) as caught:
        ensure_wheelhouse(tmp_path, lambda source, line: None)
    assert str(caught.value) == ("building the wheelhouse failed (scripts/wheelhouse.sh "
                                 "exited with 4):\nfetching\nERROR: no python3 found")
