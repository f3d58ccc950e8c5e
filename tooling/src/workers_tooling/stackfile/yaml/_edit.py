"""Round-trip edits that leave what they do not change as it was, comments included.

ruamel.yaml keeps a comment block that stands before a key as the *tail* of whatever was
dumped just before it (the last scalar of the previous key's value, however deep), or as
pre-comments of the key itself. Deleting, inserting or replacing a value would drop or
move those comments, so :func:`insert_key`, :func:`delete_key` and :func:`replace_value`
move the tails along; :func:`sync_value` only touches values that really changed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq, merge_attrib
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from ._doc import equal_as_swarm_reads, key_quoted, needs_escapes, own_keys, requote_keys, to_node

__all__ = [
    "delete_key",
    "insert_key",
    "pop_tail",
    "push_tail",
    "replace_value",
    "rewrite_misread",
    "sync_mapping",
    "sync_value",
]


# ------------------------------------------------------------------ comments

def _is_block(node: Any) -> bool:
    if isinstance(node, CommentedMap):
        return bool(own_keys(node)) and not node.fa.flow_style()
    return isinstance(node, CommentedSeq) and len(node) > 0 and not node.fa.flow_style()


def _tail_slot(parent: Any, key: Any) -> tuple[Any, Any, int]:
    """Where the comments after ``parent[key]`` live: (container, key, index in ca.items)."""
    container, slot = parent, key
    node = parent[key]
    while _is_block(node):
        container = node
        slot = own_keys(node)[-1] if isinstance(node, CommentedMap) else len(node) - 1
        node = node[slot]
    return container, slot, (2 if isinstance(container, CommentedMap) else 0)


def pop_tail(parent: Any, key: Any) -> str:
    """Remove and return the comment lines after ``parent[key]`` (keeping an end-of-line one)."""
    container, slot, index = _tail_slot(parent, key)
    entry = container.ca.items.get(slot)
    token = entry[index] if entry else None
    if not isinstance(token, CommentToken):
        return ""
    value: str = token.value
    cut = value.find("\n") + 1 or len(value)
    eol, rest = value[:cut], value[cut:]
    if eol.strip():
        token.value = eol
    else:
        entry[index] = None
    return rest


def push_tail(parent: Any, key: Any, lines: str) -> None:
    """Append comment lines after ``parent[key]``."""
    if not lines:
        return
    container, slot, index = _tail_slot(parent, key)
    entry = container.ca.items.setdefault(slot, [None, None, None, None])
    token = entry[index]
    if isinstance(token, CommentToken):
        token.value = token.value + lines
    else:
        entry[index] = CommentToken("\n" + lines, CommentMark(0), None)


def _text(token: CommentToken) -> str:
    # Pre-comment tokens hold a comment without its indentation (that is in the column).
    value: str = token.value
    return " " * token.column + value if value.startswith("#") else value


def _pop_pre(mapping: CommentedMap, key: Any) -> str:
    """Remove and return the comment lines stored as the key's own pre-comments."""
    entry = mapping.ca.items.get(key)
    if not entry or not entry[1]:
        return ""
    text = "".join(_text(token) for token in entry[1])
    entry[1] = None
    return text


def _head_comments(mapping: CommentedMap) -> list[CommentToken]:
    """The (mutable) list of comment lines above the mapping's first key."""
    if mapping.ca.comment is None:
        mapping.ca.comment = [None, []]
    if mapping.ca.comment[1] is None:
        mapping.ca.comment[1] = []
    head: list[CommentToken] = mapping.ca.comment[1]
    return head


def _join(before: str, after: str) -> str:
    """Comments that stood before a deleted key, then those that stood after it."""
    head = before.splitlines(keepends=True)
    while head and not head[-1].strip():
        head.pop()
    if not head:
        return after
    tail = after.splitlines(keepends=True)
    while tail and not tail[0].strip():
        tail.pop(0)
    return "".join(head + tail)


# ------------------------------------------------------------------ edits

def delete_key(mapping: CommentedMap, key: Any) -> None:
    """``del mapping[key]``, keeping the comments that stood before and after it."""
    keys = own_keys(mapping)
    index = keys.index(key)
    before = _pop_pre(mapping, key)
    after = pop_tail(mapping, key)
    del mapping[key]
    if index > 0:
        previous = keys[index - 1]
        push_tail(mapping, previous, _join(pop_tail(mapping, previous) + before, after))
    elif own_keys(mapping):
        head = _head_comments(mapping)
        lines = _join("".join(_text(token) for token in head) + before, after)
        head[:] = [CommentToken(lines, CommentMark(0), None)] if lines else []


def _merge_position(mapping: CommentedMap) -> int:
    """Where ``<<:`` stands among the mapping's written entries (-1: no merge)."""
    try:
        return int(getattr(mapping, merge_attrib).merge_pos)
    except (AttributeError, IndexError):
        return -1


def insert_key(mapping: CommentedMap, index: int, key: Any, value: Any, *,
               blank_line: bool = False) -> None:
    """Insert so that ``key`` becomes the ``index``-th own key; comments stay in place."""
    keys = own_keys(mapping)
    previous = keys[index - 1] if index > 0 else None
    moved = ""
    if previous is not None:
        moved = pop_tail(mapping, previous)
        push_tail(mapping, previous, "\n" if blank_line else "")
    merge = _merge_position(mapping)
    mapping.insert(index + 1 if 0 <= merge <= index else index, key, value)
    push_tail(mapping, key, moved)


def replace_value(mapping: CommentedMap, key: Any, value: Any) -> None:
    """``mapping[key] = value``; comments after the old value stay after the new one."""
    old = mapping[key]
    if (isinstance(old, CommentedSeq) and old.fa.flow_style() and isinstance(value, CommentedSeq)
            and not any(isinstance(item, Mapping | list) for item in value)):
        value.fa.set_flow_style()  # keep a hand-written [a, b] a flow list
    moved = pop_tail(mapping, key)
    mapping[key] = value
    push_tail(mapping, key, moved)


def _owned_same(old: CommentedMap, new: Mapping[str, Any], owned: Collection[str] | None) -> bool:
    mine = {key for key in own_keys(old) if owned is None or key in owned}
    return (mine == {key for key in new if owned is None or key in owned}
            and all(key_quoted(key) for key in mine)
            and all(equal_as_swarm_reads(old[key], new[key]) for key in mine))


def sync_value(mapping: CommentedMap, key: Any, value: Any, order: Sequence[Any] = (),
               owned: Collection[str] | None = None) -> bool:
    """Make ``mapping[key]`` equal ``value``, touching nothing that is equal already.

    A new key goes after the nearest key that precedes it in ``order`` (else before the
    first that follows it, else last). A mapping is synced key by key (only its ``owned``
    keys, if given), so comments inside survive; a key YAML 1.1 would misread gets its
    quotes. Returns whether anything changed.
    """
    own = own_keys(mapping)
    requoted = key in own and requote_keys(mapping, (key,))
    if key not in own:
        order = list(order)
        before = order[: order.index(key)] if key in order else []
        present = [own.index(k) for k in before if k in own]
        after = [own.index(k) for k in order if k in own and k not in before]
        position = max(present) + 1 if present else min(after) if after else len(own)
        insert_key(mapping, position, key, value)
        return True
    old = mapping[key]
    if isinstance(old, CommentedMap) and isinstance(value, Mapping):
        if _owned_same(old, value, owned):
            return requoted
        if old.fa.flow_style():  # {a: 1} grows into what we write: make it a block
            moved = pop_tail(mapping, key)
            old.fa.set_block_style()
            push_tail(mapping, key, moved)
        return sync_mapping(old, value, owned) or requoted
    if equal_as_swarm_reads(old, value):
        return requoted
    replace_value(mapping, key, value)
    return True


def sync_mapping(target: CommentedMap, generated: Mapping[str, Any],
                 owned: Collection[str] | None = None) -> bool:
    """Sync the ``owned`` keys of ``target`` (default: all) with ``generated``."""
    changed = False
    keys = list(generated)
    for key in keys:
        if owned is None or key in owned:
            changed = sync_value(target, key, generated[key], keys) or changed
    for key in own_keys(target):
        if key not in generated and (owned is None or key in owned):
            delete_key(target, key)
            changed = True
    return changed


def rewrite_misread(node: CommentedMap, read: Any, generated: Mapping[str, Any]) -> bool:
    """Rewrite the generated values of ``node`` that a YAML 1.1 reader (libyaml, as Docker's
    loader) reads otherwise than ruamel.yaml did: ``read`` is that reader's view of the same
    mapping (None: it could not read it). Such a string holds characters only an escape
    keeps (a raw U+2028 is a line break to YAML 1.1, not to 1.2); it is written afresh,
    escaped. Lists are left to their own sync (hand-added secrets stay)."""
    changed = False
    for key, wanted in generated.items():
        if key not in own_keys(node):
            continue
        seen = read.get(key) if isinstance(read, Mapping) else None
        if isinstance(wanted, Mapping) and isinstance(node[key], CommentedMap):
            changed = rewrite_misread(node[key], seen, wanted) or changed
        elif isinstance(wanted, str) and (seen != str(wanted) if read is not None
                                          else needs_escapes(wanted)):
            replace_value(node, key, to_node(wanted))
            changed = True
    return changed
