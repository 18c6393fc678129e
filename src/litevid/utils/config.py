"""Run configurations stated once: a flat dataclass whose fields carry their help and defaults.

``add_arguments(parser, Config)`` generates one command-line flag per field, and
``from_args(Config, args)`` builds the dataclass back from the parsed namespace, so a setting is
declared in exactly one place (its field) and the CLI can never drift from the code. Field
metadata keys (all optional):

- ``help``: the flag's help text (the dataclass default is appended);
- ``flag``: the flag name when it is not ``--field-name`` (e.g. ``--import``);
- ``choices``: allowed values;
- ``bound``: the allowed range of a number (``option(..., ge=1)``, ``gt=0``, ``le=``, ``lt=``): the
  flag's argparse type rejects a value outside it, naming the flag, and ``validate_fields``
  (call it from the dataclass's ``__post_init__``) rejects it when the dataclass is built in
  Python, naming the field. ``None`` ("unset, the default") is always allowed;
- ``path``: what a string field names, for ``check_paths``: ``"file"`` (a file the run writes),
  ``"dir"`` (a folder it writes into, created if absent) or ``"db"`` (a results store);
- ``required``: ``True`` for a field without a default (``option(required=True, help=...)``;
  ``option`` refuses a command-line field with neither; the dataclass should be
  ``kw_only`` so required fields may follow defaulted ones): its flag
  is ``required=True`` (argparse's "the following arguments are required: --x"), ``from_args``
  refuses a namespace without it and ``validate_fields`` refuses ``None``, naming the field;
- ``positional``: ``True`` to take the field as a positional argument named after the field
  (``litevid eval``'s ``model``) rather than a flag; with ``required`` it must be given, without it
  it may be left out (``nargs="?"``);
- ``cli``: ``False`` to keep a field out of the command line.

Types come from the annotations: ``bool`` fields become on/off switches
(``--x``/``--no-x``), ``T | None`` fields take a ``T`` and default to ``None`` ("automatic").
``choices`` are checked by ``validate_fields`` too, so a dataclass built in Python refuses what the
flag would refuse.

Hand-written flags of the other verbs take their bounds from the same place: ``bounded(int,
ge=1)`` (or ``int_at_least(1)``) is the argparse ``type=`` that ``add_arguments`` generates.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from typing import Any, Callable, TypeVar

__all__ = ["MAX_SEED", "Bound", "add_arguments", "bounded", "check_paths", "from_args",
           "int_at_least", "option", "validate_fields"]

# Seeds are 0 .. 2**63 - 1: numpy's generators (synthetic data) refuse negative seeds and
# torch.manual_seed overflows past 64 bits.
MAX_SEED = 2**63 - 1
PATH_KINDS = ("file", "dir", "db")

C = TypeVar("C")


@dataclasses.dataclass(frozen=True)
class Bound:
    """The allowed range of a number: ``ge``/``gt`` below and ``le``/``lt`` above (``None``:
    unbounded on that side). NaN and infinity are never allowed."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def __post_init__(self) -> None:
        if (self.ge, self.gt).count(None) == 0 or (self.le, self.lt).count(None) == 0:
            raise TypeError("give at most one lower (ge / gt) and one upper (le / lt) bound")

    def describe(self) -> str:
        """``>= 1``, ``> 0 and < 1``."""
        parts = [f"{op} {value:g}" if isinstance(value, float) else f"{op} {value}"
                 for op, value in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
                 if value is not None]
        return " and ".join(parts)

    def problem(self, value: float) -> str | None:
        """``None`` if ``value`` is allowed, else why not (``must be >= 1, got 0``)."""
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, got {value}"
        if (self.ge is not None and value < self.ge or self.gt is not None and value <= self.gt
                or self.le is not None and value > self.le
                or self.lt is not None and value >= self.lt):
            return f"must be {self.describe()}, got {value}"
        return None


def bounded(typ: type, *, ge: float | None = None, gt: float | None = None,
            le: float | None = None, lt: float | None = None,
            bound: Bound | None = None) -> Callable[[str], Any]:
    """An argparse ``type=``: the text as ``typ`` (``int`` or ``float``), rejected outside the
    bound with argparse's one line, e.g. ``argument --epochs: must be >= 1, got 0``."""
    limit = bound or Bound(ge=ge, gt=gt, le=le, lt=lt)

    def parse(text: str) -> Any:
        value = typ(text)  # a ValueError here: argparse's "invalid int value: 'x'"
        problem = limit.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = typ.__name__
    return parse


def int_at_least(minimum: int) -> Callable[[str], int]:
    """The argparse ``type=`` of an integer flag that must be ``>= minimum``."""
    return bounded(int, ge=minimum)


def option(default: Any = dataclasses.MISSING, *, help: str, flag: str | None = None,
           choices: typing.Sequence[Any] | None = None, cli: bool = True,
           ge: float | None = None, gt: float | None = None, le: float | None = None,
           lt: float | None = None, path: str | None = None, required: bool = False,
           positional: bool = False, default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with its command-line help (see the module docstring)."""
    if path is not None and path not in PATH_KINDS:
        raise TypeError(f"path must be one of {PATH_KINDS}, got {path!r}")
    has_default = default is not dataclasses.MISSING or default_factory is not dataclasses.MISSING
    if required and has_default:
        raise TypeError("a required field takes no default")
    if cli and not required and not has_default:
        raise TypeError("give the field a default, or declare it required=True")
    if positional and flag is not None:
        raise TypeError("a positional field has no flag name")
    limits = {"ge": ge, "gt": gt, "le": le, "lt": lt}
    bound = Bound(**limits) if any(v is not None for v in limits.values()) else None
    meta = {"help": help, "flag": flag, "choices": tuple(choices) if choices else None, "cli": cli,
            "bound": bound, "path": path, "required": required, "positional": positional}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _flag(f: dataclasses.Field) -> str:
    """The field's name on the command line: ``--batch-size``, or ``model`` (positional)."""
    if f.metadata.get("positional"):
        return f.name
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _label(f: dataclasses.Field) -> str:
    """How errors name a field: ``batch_size (--batch-size)``, or ``model`` (positional)."""
    flag = _flag(f)
    return f.name if flag == f.name else f"{f.name} ({flag})"


def validate_fields(obj: Any) -> None:
    """Raise ``ValueError`` naming the first field of the dataclass ``obj`` that is required but
    ``None``, outside its bound or not one of its choices (call from ``__post_init__``, so
    ``TrainConfig(epochs=0)`` fails as ``--epochs 0`` does)."""
    for f in dataclasses.fields(obj):
        meta, value = f.metadata, getattr(obj, f.name)
        if value is None:
            if meta.get("required"):
                raise ValueError(f"{_label(f)}: required, got None")
            continue
        choices = meta.get("choices")
        if choices is not None and value not in choices:
            raise ValueError(f"{_label(f)}: must be one of {', '.join(map(str, choices))}, got "
                             f"{value!r}")
        bound = meta.get("bound")
        if bound is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{_label(f)}: must be a number, got {value!r}")
        problem = bound.problem(value)
        if problem:
            raise ValueError(f"{_label(f)}: {problem}")


def check_paths(obj: Any) -> None:
    """Check, before any work, that every output path of the dataclass ``obj`` (fields declared
    with ``path=``) can be written; raises one line naming the flag and the path
    (``utils.paths``). Unset (``None`` / empty) fields are skipped."""
    from .paths import check_results_db, check_writable_dir, check_writable_file

    checks = {"file": check_writable_file, "dir": check_writable_dir, "db": check_results_db}
    for f in dataclasses.fields(obj):
        kind, value = f.metadata.get("path"), getattr(obj, f.name)
        if kind and value:
            checks[kind](value, _flag(f))


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
        flag = _flag(f)
        text = meta.get("help") or ""
        required, positional = meta.get("required", False), meta.get("positional", False)
        if typ is bool:
            if required or positional:
                raise TypeError(f"{config_cls.__name__}.{f.name}: a switch can be neither "
                                "required nor positional")
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=None, help=text)
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        if default not in (None, "") and not optional and "default" not in text:
            text += f" (default {default})"
        bound = meta.get("bound")
        kwargs: dict[str, Any] = dict(type=bounded(typ, bound=bound) if bound else typ,
                                      default=None, choices=meta.get("choices"), help=text)
        if positional:  # argparse takes the dest from the name and requires it unless nargs="?"
            parser.add_argument(f.name, **kwargs, **({} if required else {"nargs": "?"}))
        else:
            parser.add_argument(flag, dest=f.name, required=required, **kwargs)


def from_args(config_cls: type[C], args: argparse.Namespace, **overrides: Any) -> C:
    """The dataclass from parsed flags: flags left unset keep the dataclass defaults; a required
    field missing from both ``args`` and ``overrides`` is a ``ValueError`` naming it."""
    fields = dataclasses.fields(config_cls)  # type: ignore[arg-type]
    values = {f.name: getattr(args, f.name) for f in fields
              if getattr(args, f.name, None) is not None}
    values.update(overrides)
    missing = [_label(f) for f in fields if f.metadata.get("required") and f.name not in values]
    if missing:
        raise ValueError(f"{config_cls.__name__}: required setting(s) missing: "
                         f"{', '.join(missing)}")
    return config_cls(**values)
