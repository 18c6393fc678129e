"""``litevid bench``: measure registered models in the study's modes and store the rows.

With no arguments: on a GPU the study's protocol (train B=8, batch B=32, single B=1, AMP,
10 warm-up + 100 timed runs); on CPU every model in ``single`` mode with adaptive iterations.
The flags are generated from ``BenchConfig``'s fields, which hold every default and help text;
the sweep itself is ``runner.run_bench``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..utils.config import add_arguments, check_paths, from_args
from .config import BenchConfig


def _cmd_bench(args: argparse.Namespace) -> int:
    from ..results.stats import CV_WARN_THRESHOLD
    from ..results.table import measurement_table
    from ..utils.console import make_console
    from .runner import run_bench

    cfg = from_args(BenchConfig, args)
    check_paths(cfg)  # --db, --json: before any model runs
    rows = [r.to_dict() for r in run_bench(cfg)]
    if not rows:
        return 0
    device = rows[0].get("device_name") or "?"
    make_console().print(measurement_table(
        rows, f"litevid bench: {device}, {rows[0].get('precision')}",
        caption="relative = median / fastest model's median in this run, per mode; "
                "GFLOPs, TFLOP/s: 1 multiply-add = 1 FLOP; CV > 10% marked '!'"))
    for r in rows:
        if r["status"] == "ok" and r.get("cv") is not None and r["cv"] > CV_WARN_THRESHOLD:
            print(f"warning: {r['model']} {r['mode']}: CV {r['cv'] * 100:.1f}% > "
                  f"{CV_WARN_THRESHOLD * 100:.0f}%: noisy measurement (busy machine, throttling?); "
                  "raise --min-seconds or rerun on an idle machine", file=sys.stderr)
    failed = sum(r["status"] != "ok" for r in rows)
    print(f"{len(rows)} row(s) written to {cfg.db}" + (f" ({failed} failed)" if failed else ""),
          file=sys.stderr)
    return 0


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bench", help="measure latency and memory of models (train / batch / single)",
        description="Measure registered models in the study's three modes and store one row per "
                    "(model, mode) in an SQLite results store. Defaults: the study's protocol on "
                    "a GPU; single mode with adaptive iterations on CPU.")
    add_arguments(p, BenchConfig)
    p.set_defaults(func=_cmd_bench)
