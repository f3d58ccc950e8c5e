"""What a ``worker.json`` may put into the stack file: the rules of its environment, labels
and placement values (:class:`~..project._service_spec.ServiceSpec` applies them).

* A value may read only the variables the project declares (:mod:`._stack_variables`).
* An environment variable named like a secret (``*PASSWORD*``, ``*TOKEN*``, ``*SECRET*``,
  ``*KEY``) holds nothing but the empty string: a value there would be in git, in the
  stack file and in ``docker service inspect``. Secrets go through Docker secrets
  (``"secrets"``, mounted at ``/run/secrets/NAME``, with ``NAME_FILE`` pointing there).
  A name ending in ``_FILE`` (a path), ``_PATH``, ``_DIR``, ``_URL``, ``_URI`` or ``_ID``
  holds no secret itself.
* A label key may not read, to Prometheus, as one of the tooling's own
  (:data:`~._labels.RESERVED_LABEL_NAMESPACES`).

Each problem is reported at its own path (``environment.API_TOKEN: ...``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic_core import ValidationError

from ._labels import RESERVED_LABEL_NAMESPACES, RESERVED_LABEL_PREFIXES, prometheus_label_name
from ._stack_variables import interpolation_problem

__all__ = ["environment_problems", "label_problems", "raise_problems", "secret_variable",
           "secret_word"]

_SECRET = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|KEYS?(?![A-Z])")
_NOT_THE_SECRET = ("_FILE", "_PATH", "_DIR", "_URL", "_URI", "_ID")


def secret_variable(secret: str) -> str:
    """``camunda_password`` -> ``CAMUNDA_PASSWORD_FILE`` (what the SDK reads)."""
    return re.sub(r"[^A-Za-z0-9]", "_", secret).upper() + "_FILE"


def secret_word(name: str) -> str | None:
    """The word that makes ``name`` look like a secret's variable (None: it does not)."""
    upper = name.upper()
    if upper.endswith(_NOT_THE_SECRET):
        return None
    match = _SECRET.search(upper)
    return match.group() if match else None


def _secret_fix(name: str, word: str) -> str:
    secret = name.lower()
    return (f"looks like a secret (its name has {word}), and a value here would be in git, "
            "in the stack file and in `docker service inspect`: put it in a Docker secret "
            f"(`docker secret create {secret} -`), list {secret!r} in \"secrets\" (the worker "
            f"reads it from /run/secrets/{secret}, {secret_variable(secret)} points there) "
            "and remove it here")


def environment_problems(environment: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Variable -> (value, what is wrong with it), for every variable with a problem."""
    problems: dict[str, tuple[str, str]] = {}
    for name, value in environment.items():
        word = secret_word(name)
        if word is not None and value:
            problems[name] = (value, _secret_fix(name, word))
        elif (problem := interpolation_problem(value)) is not None:
            problems[name] = (value, problem)
    return problems


def label_problems(labels: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Label key -> (value, what is wrong with it), for every label with a problem."""
    problems: dict[str, tuple[str, str]] = {}
    for key, value in labels.items():
        seen_as = prometheus_label_name(key)
        if seen_as.startswith(RESERVED_LABEL_NAMESPACES):
            tooling = ", ".join(prefix + "*" for prefix in RESERVED_LABEL_PREFIXES)
            problems[key] = (value, (
                f"Prometheus reads this label as {seen_as} (every character outside "
                f"[a-zA-Z0-9_] becomes _), among the labels the tooling sets ({tooling}): "
                "it could switch off the worker's scraping or take another worker's name; "
                f"rename it, e.g. 'app.{key}'"))
        elif (problem := interpolation_problem(value)) is not None:
            problems[key] = (value, problem)
    return problems


def raise_problems(title: str, problems: Mapping[str, tuple[str, str]]) -> None:
    """Raise the problems (key -> (input, message)) as pydantic errors at ``FIELD.key``:
    raised from a field validator, pydantic puts them under that field."""
    if problems:
        raise ValidationError.from_exception_data(title, [
            {"type": "value_error", "loc": (key,), "input": value,
             "ctx": {"error": ValueError(message)}}
            for key, (value, message) in problems.items()])
