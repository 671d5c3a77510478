"""What the commands' options share: None means "not given", and ``--help`` reads defaults
from the configs.

An option that sets a config field defaults to None, so a value given on the command line
overrides the config (its dataclass default, a preset or a saved run) and one not given
leaves it alone: each default lives in its dataclass only, and ``show_config_defaults``
makes ``--help`` show it from there.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from typer.models import OptionInfo

__all__ = ["given", "parsed", "show_config_defaults"]

T = TypeVar("T")


def given(**options: Any) -> dict[str, Any]:
    """The options given on the command line: those that are not None."""
    return {name: value for name, value in options.items() if value is not None}


def parsed(parse: Callable[[str, str], T], text: str | None, option: str) -> T | None:
    """``parse(text, option)`` for an option given as text (a list, say); None if not given."""
    return None if text is None else parse(text, option)


def show_config_defaults(command: Callable[..., Any], *configs: Any) -> None:
    """Show, in ``command``'s ``--help``, the config default of each option named as a field.

    An option whose parameter is named as a field of one of ``configs`` (the first that
    has it) shows that field's value; an empty value (``""``, ``()``) shows nothing, for
    the help text to say what it means.
    """
    # Resolved once and stored back: string annotations (``from __future__ import
    # annotations``) would otherwise build new ``typer.Option`` objects at each reading.
    hints = typing.get_type_hints(command, include_extras=True)
    command.__annotations__ = hints
    for name, hint in hints.items():
        info = next(
            (m for m in getattr(hint, "__metadata__", ()) if isinstance(m, OptionInfo)), None
        )
        config = next((c for c in configs if name in _field_names(c)), None)
        if info is None or config is None or info.show_default is not True:
            continue
        value = getattr(config, name)
        if value is not None and value not in ("", ()):
            info.show_default = _shown(value, _flags(info, name))


def _field_names(config: Any) -> set[str]:
    return {f.name for f in dataclasses.fields(config)}


def _flags(info: OptionInfo, name: str) -> tuple[str, str]:
    """The on and off flags of a boolean option: Typer's ``--name/--no-name`` unless named."""
    # Typer moves the first name of ``typer.Option("--a/--no-a")`` from ``default`` to
    # ``param_decls`` when it builds the command, so either may hold it here.
    names = [info.default, *info.param_decls]
    pair = next((n for n in names if isinstance(n, str) and "/" in n), None)
    option = "--" + name.replace("_", "-")
    on, off = pair.split("/") if pair else (option, option.replace("--", "--no-", 1))
    return on, off


def _shown(value: Any, flags: tuple[str, str]) -> str:
    if isinstance(value, bool):
        return flags[0] if value else flags[1]
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)
