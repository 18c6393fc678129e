"""``litevid export``: one model or all of them, to one or more formats, parity-checked.

With one model, prints the artefact, its sidecar and the parity result. With several (a comma
list, or ``--all`` for every registered model), prints the matrix model x format (ok with the
parity error, or the error with its reason); ``--update-matrix`` stores the outcomes in
``models/export_matrix.json``, from which ``ModelSpec.export`` is read. Heavy imports stay
inside the command.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import sys
from typing import Any

from ..utils.config import MAX_SEED, bounded, int_at_least

__all__ = ["add_parser"]

_FORMAT_NAMES = ("executorch", "coreml", "onnx", "torchscript-lite")


def _cell(result: Any) -> str:
    """One matrix cell: ``ok`` + parity (and the delegated FLOP share) or the error."""
    if isinstance(result, str):
        return result
    text = "ok"
    if result.parity.max_rel is not None:
        text += f" rel {result.parity.max_rel:.0e}"
    else:
        text += f" ({result.parity.status})"
    share = result.info.get("delegated_flops_share")
    if share is not None:
        text += f", {100 * share:.1f}% delegated"
    return text


def _cmd_export(args: argparse.Namespace) -> int:
    from ..models import list_models, model_spec
    from ..utils.console import make_console
    from .api import export_model
    from .formats import ExportError, get_format

    from ..utils.paths import check_writable_dir

    check_writable_dir(args.out, "--out")  # before any model is exported
    console = make_console(stderr=True)
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    try:
        for f in formats:
            get_format(f).check_available()
    except ValueError as exc:  # unknown format
        raise ValueError(f"--format: {exc}") from None
    except ExportError as exc:
        print(f"litevid export: error: {exc}", file=sys.stderr)
        return 2
    if args.all == bool(args.model):
        raise ValueError("give MODEL (or a comma-separated list) or --all")
    names = list_models() if args.all else [m.strip() for m in args.model.split(",") if m.strip()]
    for n in names:
        model_spec(n)  # unknown model: a clear error before any work
    if args.checkpoint is None:  # said once here, not per model by the library's logger
        logging.getLogger("litevid.export.api").setLevel(logging.ERROR)
        console.print("[yellow]no --checkpoint: exporting randomly initialised weights "
                      "(parity and latency are still exact)[/yellow]")
    kwargs = dict(out_dir=args.out, checkpoint=args.checkpoint, frames=args.frames,
                  size=args.size, precision=args.precision, compute_units=args.compute_units,
                  stream=args.stream, threads=args.threads, seed=args.seed,
                  batch_size=args.batch_size)
    outcomes: dict[str, dict[str, Any]] = {f: {} for f in formats}
    failures = 0
    for fmt in formats:
        deprecated = get_format(fmt).deprecated
        if deprecated:
            console.print(f"[yellow]--format {fmt} is deprecated: {deprecated}[/yellow]")
        sweep = len(names) > 1
        for name in names:
            # A sweep logs a line per model; one model shows a transient status instead, so
            # that its failure is the one error line.
            if sweep:
                console.print(f"exporting {name} -> {fmt} ...", end=" ")
            try:
                with (contextlib.nullcontext() if sweep
                      else console.status(f"exporting {name} -> {fmt} ...")):
                    result = export_model(name, fmt, **kwargs)
            except (ExportError, ValueError, FileNotFoundError) as exc:
                if not sweep:
                    print(f"litevid export: error: {exc}", file=sys.stderr)
                    return 2
                result, failures = f"error: {exc}", failures + 1
            except Exception as exc:  # an exporter bug on one model must not end the sweep
                if len(names) == 1:
                    raise
                result, failures = f"error: {type(exc).__name__}: {exc}", failures + 1
            outcomes[fmt][name] = result
            if not sweep:
                console.print(f"exported {name} -> {fmt}: ", end="")
            console.print(_cell(result) if not isinstance(result, str) else "[red]error[/red]")
            gc.collect()
    if args.json:
        rows = [{"model": n, "format": f, **({"status": r} if isinstance(r, str) else {
            "status": "ok", "artefact": str(r.artefact), "sidecar": str(r.sidecar),
            "parity": r.parity.__dict__, "info": r.info, "seconds": round(r.seconds, 1)})}
            for f, col in outcomes.items() for n, r in col.items()]
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif len(names) > 1:
        _print_matrix(outcomes, names)
    else:
        r = outcomes[formats[0]][names[0]]
        print(f"{r.artefact}\n{r.sidecar}\nparity: {r.parity.describe()}")
    if args.update_matrix:
        from .matrix import update_matrix

        any_ok = next((r for col in outcomes.values() for r in col.values()
                       if not isinstance(r, str)), None)
        shape = (f"{args.frames}x{args.size}" if args.frames and args.size
                 else "each model's default clip (16x224)")
        for fmt, col in outcomes.items():
            update_matrix(fmt, {n: "ok" if not isinstance(r, str) else r[:300]
                                for n, r in col.items()},
                          input_shape=shape, tools=get_format(fmt).versions())
        console.print(f"export matrix updated ({', '.join(formats)})"
                      + ("" if any_ok else " [red](every export failed)[/red]"))
    return 1 if failures else 0


def _print_matrix(outcomes: dict[str, dict[str, Any]], names: list[str]) -> None:
    from rich.table import Table

    from ..utils.console import make_console

    table = Table(title="litevid export: model x format (parity: max |diff| / max |eager|)")
    table.add_column("model")
    for fmt in outcomes:
        table.add_column(fmt)
    for name in names:
        cells = []
        for fmt in outcomes:
            r = outcomes[fmt][name]
            cells.append(f"[red]{r[:110]}[/red]" if isinstance(r, str) else _cell(r))
        table.add_row(name, *cells)
    make_console().print(table)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export",
        help="export models to ExecuTorch, Core ML, ONNX or PyTorch Lite (parity-checked)",
        description="Export a model (or --all) to mobile/edge formats. Every artefact is run by "
                    "its runtime on the same random clip as eager PyTorch and compared (Core ML "
                    "predicts on macOS only); a failed check writes nothing. Writes "
                    "<out>/<model>_<T>x<S><suffix> and a JSON sidecar. Needs the export extra: "
                    "pip install 'litevid[export]'.")
    p.add_argument("model", nargs="?", help="registry name (see litevid models), or a "
                   "comma-separated list")
    p.add_argument("--format", required=True,
                   help=f"{' | '.join(_FORMAT_NAMES)} (comma-separated for several)")
    p.add_argument("--all", action="store_true", help="export every registered model and print "
                   "the matrix model x format")
    p.add_argument("--out", default="exports", help="output folder (default: exports)")
    p.add_argument("--checkpoint", help="a litevid train checkpoint or a plain state dict "
                   "(default: random initialisation, with a warning)")
    p.add_argument("--frames", type=int_at_least(1),
                   help="clip length T (default: checkpoint's, else 16)")
    p.add_argument("--size", type=int_at_least(1),
                   help="frame size H=W (default: checkpoint's, else 224)")
    p.add_argument("--precision", default="fp32", choices=("fp32", "fp16"),
                   help="fp32 (parity rel <= 1e-4) or fp16 (rel <= 1e-2)")
    p.add_argument("--compute-units", default="all", choices=("all", "cpu", "gpu", "ane"),
                   help="Core ML compute units: all, CPU only, CPU+GPU, CPU+Neural Engine")
    p.add_argument("--stream", action="store_true", help="MoViNet: export the causal per-frame "
                   "step with its state as explicit inputs/outputs")
    p.add_argument("--threads", type=int_at_least(1), help="runtime threads of the parity run")
    p.add_argument("--seed", type=bounded(int, ge=0, le=MAX_SEED), default=0,
                   help="seed of the random parity clip")
    p.add_argument("--batch-size", type=int_at_least(1), default=1,
                   help="the exported (static) batch (default 1: single-instance inference)")
    p.add_argument("--update-matrix", action="store_true",
                   help="store the outcomes in models/export_matrix.json (ModelSpec.export "
                        "reads it); with a model list, only those entries change")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.set_defaults(func=_cmd_export)
