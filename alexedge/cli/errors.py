"""How every CLI command reports failure: one red line and an exit code, no traceback.

Separate from ``alexedge.cli``'s app so every command module can use it without
importing the app that registers them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from alexedge.errors import AlexEdgeError

__all__ = ["fail", "handle_errors"]

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` in red on stderr; return the ``Exit`` to raise."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn expected errors into one red line and exit code 2; Ctrl-C into exit 130."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AlexEdgeError as e:
            raise fail(str(e)) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None

    return wrapper  # type: ignore[return-value]
