"""The ``litevid`` command: one subcommand per job.

``models`` lives here. Other jobs (``bench``, ``results``, ``data``, ...) live in their own
packages and expose ``add_parser(subparsers)``; list the module in ``_SUBCOMMAND_MODULES`` and it
appears here. Heavy imports stay inside the command functions so ``litevid --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from typing import Any, Sequence

# Modules providing ``add_parser(subparsers)``; each registers one subcommand. A job package that
# is not part of this install (yet) is simply absent from the help.
_SUBCOMMAND_MODULES: tuple[str, ...] = (
    "litevid.bench.cli",
    "litevid.results.cli",
    "litevid.data.cli",
    "litevid.train.cli",
    "litevid.export.cli",
    "litevid.report.cli",
    "litevid.weights_cli",
    "litevid.study.cli",
)


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is absent
        return False


def model_rows(pattern: str | None = None, flops: bool = True) -> list[dict[str, Any]]:
    """One row per registered model: params and GFLOPs of the default configuration.

    Models are built on the ``meta`` device, so even the largest is counted without allocating.
    """
    import torch

    from .bench.flops import count_flops
    from .models import create_model, list_models, model_spec

    rows = []
    for name in list_models(pattern):
        spec = model_spec(name)
        with torch.device("meta"):
            model = create_model(name)
        params = sum(p.numel() for p in model.parameters())
        row: dict[str, Any] = {
            "name": name,
            "paper_name": spec.paper_name,
            "category": spec.category,
            "params_m": round(params / 1e6, 3),
            "paper_params_m": spec.paper_params_m,
            "params": params,
            "input": f"{spec.frames}x{spec.size}x{spec.size}",
        }
        if flops:
            row["gflops"] = round(count_flops(model, (1, *spec.input_shape)).gflops, 2)
        rows.append(row)
    return rows


def _cmd_models(args: argparse.Namespace) -> int:
    rows = model_rows(args.pattern, flops=not args.no_flops)
    if not rows:
        raise ValueError(f"--pattern {args.pattern!r}: no registered model matches (litevid "
                         "models lists them all)")
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    from rich.table import Table

    table = Table(title="litevid models: 400 classes; GFLOPs of one clip at the default input "
                        "(T x H x W), 1 multiply-add = 1 FLOP")
    for col in ("name", "paper name", "category", "params (M)", "paper params (M)", "diff",
                "input", "GFLOPs"):
        table.add_column(col, justify="left" if col in ("name", "paper name", "category") else "right")
    for r in rows:
        paper = r["paper_params_m"]
        diff = "-" if paper is None else f"{100 * (r['params_m'] - paper) / paper:+.1f}%"
        table.add_row(r["name"], r["paper_name"], r["category"], f"{r['params_m']:.2f}",
                      "-" if paper is None else f"{paper:.1f}", diff, r["input"],
                      f"{r['gflops']:.1f}" if "gflops" in r else "-")
    from .utils.console import make_console

    make_console().print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="litevid",
        description="Lightweight video action recognition: models, benchmarks, data, training.",
    )
    parser.add_argument("--version", action="version", version=f"litevid {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("models", help="list registered models with parameters and GFLOPs",
                       description="List registered models: parameters and GFLOPs of the default "
                                   "configuration (built on the meta device, nothing allocated).")
    p.add_argument("--pattern", help="shell-style filter on registry names, e.g. 'vtn_*'")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--no-flops", action="store_true", help="skip FLOP counting")
    p.set_defaults(func=_cmd_models)

    for module in _SUBCOMMAND_MODULES:
        if _module_exists(module):
            importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, PermissionError, IsADirectoryError,
            NotADirectoryError) as exc:
        # Bad input or an unusable path: one clear line, no traceback. An OSError from the
        # system names its path: "PATH: Permission denied" rather than "[Errno 13] ...".
        filename = getattr(exc, "filename", None)
        message = f"{filename}: {exc.strerror}" if filename and exc.strerror else exc
        print(f"litevid {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
