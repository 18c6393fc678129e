"""Named registries that fail loudly: models, datasets and every later table of named things.

A name registered twice raises; an unknown name raises a ``ValueError`` that suggests close
matches (``difflib``) and lists what exists, as timm's and torchvision's registries do.
"""

from __future__ import annotations

import difflib
from typing import MutableMapping, TypeVar

__all__ = ["add_unique", "lookup"]

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
