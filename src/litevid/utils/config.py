"""Run configurations stated once: a flat dataclass whose fields carry their help and defaults.

``add_arguments(parser, Config)`` generates one command-line flag per field, and
``from_args(Config, args)`` builds the dataclass back from the parsed namespace, so a setting is
declared in exactly one place (its field) and the CLI can never drift from the code. Field
metadata keys (all optional):

- ``help``: the flag's help text (the dataclass default is appended);
- ``flag``: the flag name when it is not ``--field-name`` (e.g. ``--import``);
- ``choices``: allowed values;
- ``cli``: ``False`` to keep a field out of the command line.

Types come from the annotations: ``bool`` fields become on/off switches
(``--x``/``--no-x``), ``T | None`` fields take a ``T`` and default to ``None`` ("automatic").
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, TypeVar

__all__ = ["add_arguments", "from_args", "option"]

C = TypeVar("C")


def option(default: Any = dataclasses.MISSING, *, help: str, flag: str | None = None,
           choices: typing.Sequence[Any] | None = None, cli: bool = True,
           default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with its command-line help (see the module docstring)."""
    meta = {"help": help, "flag": flag, "choices": tuple(choices) if choices else None, "cli": cli}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _scalar_type(annotation: Any) -> tuple[type, bool]:
    """(the scalar type of a field, whether it may be None)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported field type {annotation!r}: one type or T | None")
        return args[0], True
    return annotation, False


def add_arguments(parser: argparse.ArgumentParser, config_cls: type) -> None:
    """Add one flag per field of ``config_cls`` (a dataclass) to ``parser``."""
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        meta = f.metadata
        if not meta.get("cli", True):
            continue
        typ, optional = _scalar_type(hints[f.name])
        flag = meta.get("flag") or "--" + f.name.replace("_", "-")
        text = meta.get("help") or ""
        if typ is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=None, help=text)
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        if default not in (None, "") and not optional and "default" not in text:
            text += f" (default {default})"
        parser.add_argument(flag, dest=f.name, type=typ, default=None,
                            choices=meta.get("choices"), help=text)


def from_args(config_cls: type[C], args: argparse.Namespace, **overrides: Any) -> C:
    """The dataclass from parsed flags: flags left unset keep the dataclass defaults."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(config_cls)
              if getattr(args, f.name, None) is not None}
    values.update(overrides)
    return config_cls(**values)
