"""Checkpoint-parity fixtures: each original implementation, its weights in its own key layout,
an input clip and its logits, so CI proves litevid's converters without network or peers.

Run it in the peers venv of the developers' brief (torchvision, timm, transformers,
pytorchvideo; the MoViNet port is imported from ``../shared/peers``; the official Video Swin,
TimeSformer and TSM code from their public snapshots unpacked under ``../peer_src``, see
``tools/weight_fixtures/*.py``)::

    PYTHONPATH=src ../peers/bin/python tools/make_weight_fixtures.py            # write fixtures
    PYTHONPATH=src ../peers/bin/python tools/make_weight_fixtures.py --full-size  # print parity

Writes, per fixture, under ``tests/fixtures/weights/``: ``NAME.pth`` (or ``.pyth``,
``.safetensors``: the original's state dict in its release wrapper), ``NAME.io.pt`` (``input``,
``logits``) and ``NAME.json`` (layout, litevid model and arguments, source, versions, bound).
Each is checked right away by loading it through litevid. ``--full-size`` builds the published
configurations instead, loads them through litevid the same way and prints the parity table
(nothing written).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from weight_fixtures.common import ROOT, Built, Fixture, rel_err  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "weights"
FAMILIES = ("movinet", "swin", "timesformer", "mvit", "x3d", "tsm")


def all_fixtures(only: list[str] | None) -> list[Fixture]:
    found = []
    for family in FAMILIES:
        try:
            module = importlib.import_module(f"weight_fixtures.{family}")
        except ModuleNotFoundError as exc:
            if exc.name != f"weight_fixtures.{family}":
                raise
            continue
        found += [f for f in module.FIXTURES if not only or f.name in only or family in only]
    return found


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("torch", "torchvision", "timm", "transformers", "pytorchvideo"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def _save(obj: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in obj.items()}, str(tmp))
    else:
        torch.save(obj, tmp)
    os.replace(tmp, path)


def _litevid_logits(fx: Fixture, args: dict[str, Any], weights: Path,
                    x: torch.Tensor) -> tuple[torch.Tensor, Any]:
    import litevid
    model = litevid.create_model(fx.model, **args)
    report = model.load_pretrained(weights, keep_head=True)
    with torch.no_grad():
        return model.eval()(x), report


def _peer_logits(built: Built) -> torch.Tensor:
    with torch.no_grad():
        return built.peer(built.x if built.peer_x is None else built.peer_x)


def write(fx: Fixture, out: Path) -> dict[str, Any]:
    torch.manual_seed(0)
    built = fx.build(False)
    ref = _peer_logits(built)
    weights = out / f"{fx.name}{fx.suffix}"
    _save(built.saved, weights)
    _save({"input": built.x.contiguous(), "logits": ref}, out / f"{fx.name}.io.pt")
    meta = dict(name=fx.name, file=weights.name, io=f"{fx.name}.io.pt", layout=fx.layout,
                model=fx.model, model_args=built.model_args, source=fx.source, rtol=fx.rtol,
                versions=_versions(), **fx.extra)
    tmp = out / f".{fx.name}.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, out / f"{fx.name}.json")
    ours, report = _litevid_logits(fx, built.model_args, weights, built.x)
    return dict(name=fx.name, layout=report.layout, err=rel_err(ours, ref),
                kb=weights.stat().st_size / 1024, report=report)


def full_size(fx: Fixture) -> dict[str, Any]:
    torch.manual_seed(0)
    t0 = time.perf_counter()
    built = fx.build(True)
    ref = _peer_logits(built)
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / f"{fx.name}{fx.suffix}"
        _save(built.saved, weights)
        ours, report = _litevid_logits(fx, built.model_args, weights, built.x)
    return dict(name=fx.name, layout=report.layout, err=rel_err(ours, ref),
                input=tuple(built.x.shape), s=time.perf_counter() - t0, report=report)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="*", help="fixture names or families (default: all)")
    p.add_argument("--full-size", action="store_true",
                   help="published configurations: print parity, write nothing")
    p.add_argument("--out", type=Path, default=OUT,
                   help=f"folder for the fixtures (default {OUT.relative_to(ROOT)})")
    args = p.parse_args(argv)
    torch.set_grad_enabled(False)
    args.out.mkdir(parents=True, exist_ok=True)
    worst = 0.0
    for fx in all_fixtures(args.only):
        row = full_size(fx) if args.full_size else write(fx, args.out)
        ok = row["err"] <= fx.rtol and row["layout"] == fx.layout
        worst = max(worst, row["err"])
        extra = (f"input {row['input']}  {row['s']:.1f}s" if args.full_size
                 else f"{row['kb']:.0f} KB")
        print(f"{row['name']:34s} {str(row['layout']):26s} rel {row['err']:.2e}  "
              f"{'ok' if ok else 'FAIL'}  {extra}  {row['report'].summary()}")
        for note in row["report"].notes:
            print(f"{'':34s} {note}")
        if not ok:
            return 1
    print(f"worst relative difference: {worst:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
