"""The deployer's environment variables a stack file may read, declared in one place.

``docker stack deploy`` fills ``$NAME``, ``${NAME}``, ``${NAME:-default}``,
``${NAME-default}``, ``${NAME:?error}`` and ``${NAME?error}`` in every value of the stack
file from the environment it runs in, and refuses any other ``$`` (``${NAME:+x}`` too, with
docker 28); ``$$`` is a literal ``$``. A ``$`` inside a default is taken as reading a
variable here too, though docker 28 leaves it as text: the rule errs on the safe side.

A value in a ``worker.json`` may read only the variables of :data:`STACK_VARIABLES`
(:func:`interpolation_problem` is the rule), and ``workers deploy`` runs ``docker stack
deploy`` with those variables and what the docker CLI itself needs
(:func:`stack_environment`), never the operator's whole environment: a worker.json cannot
send the deployer's ``GITHUB_TOKEN`` into a container. To let the stack read another
variable, add it to :data:`STACK_VARIABLES`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["DOCKER_CLI_VARIABLES", "STACK_VARIABLES", "interpolate", "interpolation_problem",
           "references", "stack_environment"]

# What the stack file and the generator read when the stack is deployed (see the comments
# of deploy/stack.seed.yml, _service.ENGINE_URL, _image_names, _monitoring_stack).
STACK_VARIABLES = ("AUTOSCALE_INTERVAL", "CAMUNDA_URL", "DB_PASSWORD_SECRET", "ENGINE_IMAGE",
                   "MONITORING_DOCKER_SOCKET", "MONITORING_PORT", "POSTGRES_IMAGE", "REGISTRY",
                   "TAG")
# What the docker CLI reads to find and reach the engine (never interpolated from a
# worker.json: only STACK_VARIABLES are allowed there).
DOCKER_CLI_VARIABLES = (
    "PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "XDG_RUNTIME_DIR", "SSH_AUTH_SOCK",
    "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS",
    "DOCKER_TLS_VERIFY", "DOCKER_API_VERSION", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
    "http_proxy", "https_proxy", "no_proxy")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", "-", "?")
_FORMS = "${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}"


class _Invalid(ValueError):
    """A ``$`` docker stack deploy refuses ("Invalid template")."""


def _braced(value: str, start: int, names: list[str]) -> int:
    """Read ``${...}`` from ``value[start]`` (the ``{``); returns the index after ``}``."""
    name = _NAME.match(value, start + 1)
    if name is None:
        raise _Invalid(f"'${{' at character {start} is not followed by a variable name")
    names.append(name.group())
    at = name.end()
    if value.startswith("}", at):
        return at + 1
    operator = next((op for op in _OPERATORS if value.startswith(op, at)), None)
    if operator is None:
        raise _Invalid(f"'{value[start - 1:at + 2]}' is none of the forms it reads ({_FORMS})")
    at += len(operator)
    while at < len(value):  # the default or error text, which may itself read variables
        if value[at] == "}":
            return at + 1
        at = _dollar(value, at, names) if value[at] == "$" else at + 1
    raise _Invalid(f"'${{{name.group()}' is not closed by '}}'")


def _dollar(value: str, at: int, names: list[str]) -> int:
    """Read what a ``$`` at ``value[at]`` starts; returns the index after it."""
    following = value[at + 1: at + 2]
    if following == "$":
        return at + 2
    if following == "{":
        return _braced(value, at + 1, names)
    name = _NAME.match(value, at + 1)
    if name is None:
        raise _Invalid(f"a '$' at character {at} starts no variable")
    names.append(name.group())
    return name.end()


def references(value: str) -> list[str]:
    """The variables ``docker stack deploy`` would read for ``value``, in order; raises
    ValueError for a ``$`` it would refuse."""
    names: list[str] = []
    at = value.find("$")
    while at != -1:
        at = value.find("$", _dollar(value, at, names))
    return names


def interpolate(value: str, environ: Mapping[str, str]) -> str:
    """``value`` as ``docker stack deploy`` fills it from ``environ`` (``${NAME}``,
    ``${NAME:-default}``, ``${NAME-default}``, ``$NAME``, ``$$``); ``:?``/``?`` forms read as
    their variable. Raises ValueError for a ``$`` it would refuse."""
    references(value)  # refuses what docker refuses, with the same message
    out: list[str] = []
    at = 0
    while (dollar := value.find("$", at)) != -1:
        out.append(value[at:dollar])
        if value.startswith("$$", dollar):
            out.append("$")
            at = dollar + 2
            continue
        braced = value.startswith("{", dollar + 1)
        name = _NAME.match(value, dollar + 1 + braced)
        assert name is not None  # references() accepted the value
        at = name.end()
        if not braced:
            out.append(environ.get(name.group(), ""))
            continue
        operator = next((op for op in _OPERATORS if value.startswith(op, at)), "")
        end = _braced(value, dollar + 1, []) - 1  # the closing brace
        given = environ.get(name.group())
        if operator in (":-", "-") and (given is None or (operator == ":-" and not given)):
            out.append(interpolate(value[at + len(operator):end], environ))
        else:
            out.append(given or "")
        at = end + 1
    out.append(value[at:])
    return "".join(out)


def interpolation_problem(value: str) -> str | None:
    """Why ``value`` may not stand in the stack file (None: it may)."""
    allowed = ", ".join(STACK_VARIABLES)
    try:
        unknown = sorted({name for name in references(value) if name not in STACK_VARIABLES})
    except _Invalid as exc:
        return (f"{exc}: docker stack deploy refuses it; write $$ for a literal '$' "
                f"(variables it may read: {allowed})")
    if not unknown:
        return None
    return (f"reads {', '.join('$' + name for name in unknown)} from the environment of "
            f"whoever deploys; a worker.json may read only {allowed} (add a variable to "
            "STACK_VARIABLES in tooling/src/workers_tooling/stackfile/_stack_variables.py to allow "
            "it), or write $$ for a literal '$'")


def stack_environment(environ: Mapping[str, str],
                      settings: Mapping[str, str | None]) -> dict[str, str]:
    """The environment of ``docker stack deploy``: the docker CLI's own variables and
    :data:`STACK_VARIABLES` from ``environ``, then ``settings`` (None: unset)."""
    kept = {name: environ[name] for name in (*DOCKER_CLI_VARIABLES, *STACK_VARIABLES)
            if name in environ}
    for name, value in settings.items():
        if name not in STACK_VARIABLES:
            raise ValueError(f"{name} is not in STACK_VARIABLES")
        if value is None:
            kept.pop(name, None)
        else:
            kept[name] = value
    return kept
