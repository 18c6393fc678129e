"""Named registries that fail loudly: models, datasets and every later table of named things.

A name registered twice raises; an unknown name raises a ``ValueError`` that suggests close
matches (``difflib``) and lists what exists, as timm's and torchvision's registries do.
"""

from __future__ import annotations

import difflib
import importlib
from typing import MutableMapping, Sequence, TypeVar

__all__ = ["add_unique", "import_modules", "lookup"]

T = TypeVar("T")


def add_unique(table: MutableMapping[str, T], name: str, value: T, kind: str) -> T:
    """``table[name] = value``; a ``ValueError`` when ``name`` is already there."""
    if name in table:
        raise ValueError(f"{kind} {name!r} is already registered")
    table[name] = value
    return value


def lookup(table: MutableMapping[str, T], name: str, kind: str) -> T:
    """``table[name]``, or a ``ValueError`` with close matches and the available names."""
    try:
        return table[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(table), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"unknown {kind} {name!r}{hint} (available: {', '.join(sorted(table))})") from None


def import_modules(modules: Sequence[str] | str) -> None:
    """Import user modules (a list or a comma-separated string), e.g. to register their models;
    worker processes call this too, so what they register exists everywhere."""
    if isinstance(modules, str):
        modules = [m.strip() for m in modules.split(",") if m.strip()]
    for mod in modules:
        try:
            importlib.import_module(mod)
        except ImportError as exc:  # the user's module or one it needs: one line, no traceback
            raise ValueError(f"--import {mod}: cannot import it ({exc})") from None
