"""A deployed stack's services, looked up the way ``docker stack deploy`` names them."""

from __future__ import annotations

from typing import Any

from ..errors import ToolingError
from ._stack_name import DEFAULT_STACK

__all__ = ["DEFAULT_STACK", "stack_service", "stack_services"]


def stack_services(client: Any, stack: str) -> list[Any]:
    """Every service of ``stack`` (the label ``docker stack deploy`` sets)."""
    return list(client.services.list(filters={"label": f"com.docker.stack.namespace={stack}"}))


def stack_service(client: Any, stack: str, name: str) -> Any:
    """The service ``STACK_NAME``; a clear error when the stack has none of that name."""
    from docker.errors import NotFound

    try:
        return client.services.get(f"{stack}_{name}")
    except NotFound:
        raise ToolingError(f"no service {name!r} in stack {stack!r}; `workers status` lists "
                           "them") from None
