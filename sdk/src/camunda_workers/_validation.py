"""Pydantic validation errors as one :class:`SpecError` listing ``field.path: message``.

Before a model sees the data, every string in it (keys too) is checked for lone surrogates
(a JSON ``\\uD800`` escape without its pair): no file can hold one, so nothing could write it
back (the stack file, an answers file), and each is refused where it stands."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError

from .errors import SpecError

__all__ = ["validate_model"]

ModelT = TypeVar("ModelT", bound=BaseModel)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _shown(text: str) -> str:
    """``text`` printable anywhere: surrogates as ``\\udXXX`` escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _surrogates(data: Any, path: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """``(field.path, message)`` for every string of ``data`` holding a lone surrogate."""
    found: list[tuple[str, str]] = []
    items = (data.items() if isinstance(data, Mapping) else enumerate(data)
             if isinstance(data, list | tuple) else ())
    for key, value in items:
        if isinstance(key, str) and (match := _SURROGATE.search(key)):
            found.append((".".join(path), _surrogate_message("the key", key, match)))
        # the path is spelled only where it is shown or recursed into: most values are
        # clean scalars (1,000 worker.json files have ~12,000 of them)
        if isinstance(value, str):
            if match := _SURROGATE.search(value):
                where = ".".join((*path, _shown(str(key))))
                found.append((where, _surrogate_message("the value", value, match)))
        elif isinstance(value, Mapping | list | tuple):
            found.extend(_surrogates(value, (*path, _shown(str(key)))))
    return found


def _surrogate_message(what: str, text: str, match: re.Match[str]) -> str:
    return (f"{what} {_shown(repr(text))} has a lone surrogate (\\u{ord(match.group()):04X} "
            f"at character {match.start()}), an escape without its pair that no file can "
            "hold; write the character itself, or both halves of its pair")


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class inside an annotation: ``M``, ``M | None``, ``list[M]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _sub_model(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class that owns the field at ``loc`` (for "did you mean" hints)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None or isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        current = _model_in(field.annotation) if field else None
    return current


def _known_keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _message(model: type[BaseModel], error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        owner = _sub_model(model, error["loc"][:-1])
        known = _known_keys(owner) if owner else []
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        return f"unknown key; {hint}"
    if kind == "missing":
        return "required field is missing; add it"
    message = str(error["msg"])
    # Our own validators raise ValueError("must be ..."): drop pydantic's prefix.
    return message.removeprefix("Value error, ")


def problems(model: type[BaseModel], error: ValidationError) -> list[tuple[str, str]]:
    return [
        (".".join(str(part) for part in item["loc"]), _message(model, item))
        for item in error.errors()
    ]


def validate_model(model: type[ModelT], data: Any, *, source: str) -> ModelT:
    """``model.model_validate(data)``, raising :class:`SpecError` that lists every problem."""
    if not isinstance(data, Mapping):
        raise SpecError(source, [("", f"expected a JSON object, got {type(data).__name__}")])
    surrogates = _surrogates(data)
    if surrogates:
        raise SpecError(source, surrogates)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, problems(model, exc)) from None
