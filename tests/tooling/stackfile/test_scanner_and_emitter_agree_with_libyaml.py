"""The two parts the splice rests on: the line scanner agrees with libyaml on where keys
are, and the emitter writes exactly what ruamel.yaml writes."""

from __future__ import annotations

import contextlib
import io
import random
import string
from typing import Any

import pytest
from ruamel.yaml import YAML

from workers_tooling.stackfile.yaml._doc import to_node
from workers_tooling.stackfile.yaml._emit import CannotEmit, Style, emit_entry
from workers_tooling.stackfile.yaml._scan import (
    DuplicateKey,
    Unsupported,
    child_column,
    mapping_entries,
    scan_lines,
    verify,
)

TRICKY = {
    "block-scalar-with-brackets": "a:\n  run: |\n    [section\n    {x\n    'quote\nb: 1\n",
    "folded-scalar-with-keys": "a:\n  run: >-\n    b: not a key\n    - not an item\nb: 1\n",
    "block-scalar-at-the-end": "a: |\n  text\n\n  more\n",
    "multi-line-flow": "a: [1,\n  2,\n  3]\nb: {x: 1,\n  y: [2,\n 3]}\nc: 1\n",
    "flow-continuing-at-column-0": "a: [1,\n2]\nb: 1\n",
    "multi-line-double-quoted": 'a: "one\n  # not a comment\n  b: not a key"\nb: 1\n',
    "multi-line-single-quoted": "a: 'it''s\n  long'\nb: 1\n",
    "plain-with-quotes-inside": 'a: echo "hi\nb: it\'s\n',
    "plain-with-brackets-inside": "a: x[1\nb: ${A:-{b}\nc: 1\n",
    "indentless-sequence": "a:\n- 1\n- b: 2\n  c: 3\nb: 1\n",
    "comments-everywhere": "# head\na: 1 # eol\n  # indented comment\n# between\nb:\n  c: 1\n",
    "quoted-keys": "\"a b\": 1\n'c''d': 2\ne: 3\n",
    "anchors-and-aliases": "a: &x\n  k: 1\nb: *x\nc:\n  <<: *x\n",
    "tagged-flow": "a: !!seq [1,\n  2]\nb: &y [3,\n  4]\nc: 1\n",
    "document-markers": "%YAML 1.1\n---\na: 1\nb: 2\n...\n",
    "crlf": "a:\r\n  b: [1,\r\n    2]\r\nc: 1\r\n",
    "no-final-newline": "a: 1\nb:\n  c: 2",
    "empty-values": "a:\nb: ~\nc: {}\nd: []\n",
    "colon-in-plain-key": "a:b: 1\nhttp://x: 2\n",
}


@pytest.mark.parametrize("text", list(TRICKY.values()), ids=list(TRICKY))
def test_the_scanner_finds_the_keys_libyaml_finds(text: str) -> None:
    lines = text.splitlines(keepends=True)
    scanned = scan_lines(lines)
    top = mapping_entries(scanned, 0, len(lines), 0)
    below = {}
    for entry in top:
        column = child_column(scanned, entry)
        # a sequence below has no keys to compare
        with contextlib.suppress(Unsupported):
            if column is not None:
                below[entry.key] = mapping_entries(scanned, entry.start + 1, entry.end, column)
    verify(text, top, below)
    for entry in top:  # a span ends on its last content line
        assert lines[entry.end - 1].strip()
        assert not lines[entry.end - 1].lstrip().startswith("#")


@pytest.mark.parametrize(("text", "error"), [
    ("a:\n\tb: 1\n", Unsupported),
    ("? a\n: 1\n", Unsupported),
    ("a: 1\n---\nb: 2\n", Unsupported),
    ("- a\n- b\n", Unsupported),
    ("a: 1\n...\nb: 2\n", Unsupported),
    ("a: 1\nb: 2\na: 3\n", DuplicateKey),
])
def test_what_the_scanner_does_not_follow(text: str, error: type[Exception]) -> None:
    lines = text.splitlines(keepends=True)
    with pytest.raises(error):
        mapping_entries(scan_lines(lines), 0, len(lines), 0)


def _ruamel(value: Any, style: Style) -> str:
    yaml = YAML()
    yaml.indent(mapping=style.mapping, sequence=style.sequence, offset=style.offset)
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(to_node({"svc": value}), out)
    return out.getvalue()


SERVICE = {"image": "x", "environment": {"A": "1", "B": "yes", "C": "${X:-y}"},
           "ports": ["8001:8001"], "healthcheck": {"test": ("CMD", "python3", "-c", "import x")},
           "deploy": {"placement": {"constraints": ["a == b"],
                                    "preferences": [{"spread": "node.labels.zone", "x": 1}]},
                      "none": None, "empty": {}, "nothing": [], "flag": True,
                      "nested": [{"a": {"b": 1}, "c": [1, None]}, None, "x"]}}


@pytest.mark.parametrize("indent", [(2, 4, 2), (4, 4, 2), (4, 6, 4), (3, 5, 3), (2, 2, 0),
                                    (4, 4, 0), (2, 3, 0)])
def test_the_emitter_writes_what_ruamel_writes(indent: tuple[int, int, int]) -> None:
    style = Style(*indent)
    assert emit_entry("svc", SERVICE, 0, style) == _ruamel(SERVICE, style)


def test_the_emitter_writes_strings_as_ruamel_does_or_declines() -> None:
    """Every string it writes, as a value or as a key, is written as ruamel.yaml writes it
    (keys YAML 1.1 would misread quoted: ``"yes":``); the rest it declines."""
    rng = random.Random(7)
    alphabet = string.printable[:-5] + "é\u2028"
    words = ["yes", "no", "on", "off", "y", "n", "true", "null", "~", "1", "0x1f", "1_000",
             "1:20", "2001-01-01", "...x", "---", "-x", "- x", "a: b", "a #b", "a:", "#a",
             "@a", "`a", "%a", "!a", "&a", "*a", "|a", ">a", "?a", "'a", '"a', 'a"', "{a}",
             "[a]", "a,b", "$X", "${A:-b}", "{{.Task.Name}}", ".inf", ".5", "+1", "1e3", "=",
             "<<", "a\\b", 'a"b', " a", "a ", "a\tb", "a\nb"]
    cases = words + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
                     for _ in range(3000)]
    written = 0
    for word in cases:
        for value in ({"k": word, "l": [word]}, {"k": (word, "x")}, {word: "v"},
                      {"m": {word: {word: word}}}):
            try:
                mine = emit_entry("svc", value, 0, Style())
            except CannotEmit:
                continue
            written += 1
            assert mine == _ruamel(value, Style()), repr(word)
    assert written > 2000
