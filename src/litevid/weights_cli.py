"""``litevid weights``: what a checkpoint file is (``inspect``) and which published layouts
litevid reads (``layouts``). The logic is ``litevid.models._inspect`` / ``models._layouts``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _model_args(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        args = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--model-args: not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(args, dict):
        raise ValueError("--model-args: a JSON object of create_model arguments is needed, "
                         f"got {type(args).__name__}")
    return args


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .models import list_models
    from .models._inspect import inspect_checkpoint

    for name in args.model or []:
        if name not in list_models():
            raise ValueError(f"--model {name!r}: not a registered model (litevid models)")
    info = inspect_checkpoint(args.file, models=args.model, model_args=_model_args(args.model_args),
                              keep_head=args.keep_head)
    if args.json:
        json.dump(info.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    lay = info.layout
    lines = [
        f"{info.path}",
        f"  layout      {lay.name}: {lay.source} ({lay.kind}, {lay.datasets})",
        f"  tensors     {info.tensors}, {info.parameters / 1e6:.3f} M parameters",
        f"  classifier  {info.classes if info.classes is not None else 'none'}"
        + (" classes" if info.classes is not None else ""),
        f"  sha256      {info.sha256}",
        *([f"  saved by    {info.saved_by}"] if info.saved_by else []),
        f"  size        {info.size_bytes / 2**20:.2f} MiB",
    ]
    for fit in info.fits:
        lines.append(f"  create_model({fit.model!r}, pretrained=FILE"
                     f"{', pretrained_keep_head=True' if args.keep_head else ''}): loads "
                     f"{fit.loaded} of {fit.total} tensors ({fit.share:.0%}): {fit.verdict}")
        for kind in ("missing", "unexpected", "mismatched"):
            keys = getattr(fit, kind)
            if keys:
                more = f" and {len(keys) - 4} more" if len(keys) > 4 else ""
                lines.append(f"      {kind} {len(keys)}: {', '.join(keys[:4])}{more}")
        lines += [f"      {note}" for note in fit.notes]
    print("\n".join(lines))
    return 0


def _cmd_layouts(args: argparse.Namespace) -> int:
    from .models._layouts import list_layouts

    rows = [lay for lay in list_layouts(args.model) if lay.name != "litevid"]
    if args.json:
        json.dump([{"name": r.name, "models": list(r.models), "source": r.source,
                    "datasets": r.datasets, "kind": r.kind, "mapped": r.mapped,
                    "signature": list(r.signature)} for r in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print("| models | layout | source | trained on | what is mapped |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {', '.join(r.models)} | `{r.name}` | {r.source} | {r.datasets} | {r.mapped} |")
    return 0


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "weights", help="inspect checkpoint files; list the published layouts litevid reads",
        description="What a checkpoint file is and what loading it would do (nothing from the "
                    "file is run: weights_only / safetensors), and the published key layouts "
                    "each model takes.")
    sub = p.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    i = sub.add_parser(
        "inspect", help="layout, models it fits, parameters, classes, sha256, what would load",
        description="Name FILE's key layout, its parameter count, classifier width and sha256, "
                    "and for each model the layout fits what create_model(name, pretrained="
                    "FILE) would load (a dry run on the meta device: nothing allocated).")
    i.add_argument("file", help="checkpoint file (.pth, .pt, .pyth, .bin, .safetensors)")
    i.add_argument("--model", action="append",
                   help="registry name to try (repeatable; default: the models of the layout)")
    i.add_argument("--model-args", help="create_model arguments as a JSON object, e.g. "
                                        "'{\"frames\": 8}' (default: the registered model)")
    i.add_argument("--keep-head", action="store_true",
                   help="as create_model(..., pretrained_keep_head=True): keep the classifier")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=_cmd_inspect)
    lay = sub.add_parser("layouts", help="the published checkpoint layouts, as a Markdown table")
    lay.add_argument("--model", help="only the layouts this registry name takes")
    lay.add_argument("--json", action="store_true", help="print JSON")
    lay.set_defaults(func=_cmd_layouts)
