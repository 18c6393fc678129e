"""``litevid report`` and ``litevid recommend``: the study's tables and figures from the results
store, and the models worth considering for a device and a budget.

No torch is imported: both verbs read result files only. Bad input (a missing, empty or foreign
database, an unknown device, a budget nothing fits) raises ``ValueError`` /
``FileNotFoundError``, which ``litevid.cli.main`` prints as one line and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..utils.config import bounded

__all__ = ["add_parser"]

DEFAULT_OUT = "report"


def _dbs(args: argparse.Namespace) -> list[Path]:
    from .data import default_dbs

    if args.db:
        return [Path(p) for p in args.db]
    found = default_dbs()
    if not found[0].is_file():
        raise FileNotFoundError(f"no results database: neither results/*.db nor {found[0]} "
                                "exists; give --db FILE or run `litevid bench` first")
    return found


def _cmd_report(args: argparse.Namespace) -> int:
    from ..utils.paths import check_writable_dir
    from .build import build_report

    check_writable_dir(args.out, "--out")  # before the databases are read
    report = build_report(_dbs(args), args.out, compare_paper=args.compare_paper,
                          figures=not args.no_figures)
    print(f"wrote {report.index} ({len(report.tables)} table(s), {len(report.figures)} "
          f"figure(s); tables in {report.out / 'tables'}, figures in {report.out / 'figures'})")
    for note in report.notes:
        print(f"  not drawn: {note}")
    if args.compare_paper:
        corr = next(t for t in report.tables if t.name == "paper_correlation")
        for i, row in enumerate(corr.rows):
            print(f"  paper vs {row[0]} ({row[1]}): Spearman {corr.text(i, 4)}, "
                  f"Kendall {corr.text(i, 5)} over {row[3]} models")
    return 0


def _cmd_recommend(args: argparse.Namespace) -> int:
    from .recommend import recommend

    rec = recommend(_dbs(args), device=args.device, mode=args.mode,
                    max_latency_ms=args.max_latency_ms, max_memory_gb=args.max_memory_gb,
                    dataset=args.dataset)
    if args.json:
        json.dump(rec.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(rec.to_text())
    return 0


_DB_HELP = ("results database(s), merged (default: results/*.db of the repository when present, "
            "else litevid-results.db)")


def add_parser(subparsers: Any) -> None:
    """Register ``report`` and ``recommend`` on the ``litevid`` command."""
    p = subparsers.add_parser(
        "report", help="tables, figures and an HTML page of the study from the results store",
        description="Write the study's Table 2 (relative latency and memory, per device and "
                    "averaged), Table 4 per evaluated dataset (accuracy with the measured "
                    "relative latency), the latency-accuracy Pareto front per mode and a "
                    "provenance table (study, job, device, run of every number) as Markdown, "
                    "CSV and LaTeX, Figs. 2-6, the Pareto fronts and FLOPs-vs-latency as PNG "
                    "and SVG (matplotlib: pip install 'litevid[report]'), bootstrap intervals "
                    "and cross-device rank stability, and one self-contained index.html. No "
                    "torch needed.")
    p.add_argument("--db", nargs="+", metavar="FILE", help=_DB_HELP)
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT}/)")
    p.add_argument("--compare-paper", action="store_true",
                   help="put the paper's Table 2 beside the measurement, with Spearman and "
                        "Kendall rank correlations per mode")
    p.add_argument("--no-figures", action="store_true", help="tables and pages only")
    p.set_defaults(func=_cmd_report)

    r = subparsers.add_parser(
        "recommend", help="latency/accuracy Pareto front of the models that fit a budget",
        description="Models worth considering on a device: the latency/accuracy Pareto front "
                    "of the models that fit the budget. Latency: measured on that device (or "
                    "the nearest device class, said so); accuracy: the stored evaluations "
                    "(a study's, named with its jobs), else the paper's Table 4 (labelled as "
                    "the fallback).")
    r.add_argument("--device", required=True,
                   help="device name substring ('3090', 'EPYC') or class (cpu, cuda, mps, phone)")
    r.add_argument("--mode", required=True, choices=("single", "batch", "train"))
    r.add_argument("--max-latency-ms", type=bounded(float, gt=0),
                   help="latency budget per step (ms)")
    r.add_argument("--max-memory-gb", type=bounded(float, gt=0),
                   help="peak memory budget (GB, 10^9 bytes)")
    r.add_argument("--dataset",
                   help="accuracy on this dataset: any dataset the store has evaluations for "
                        "(e.g. a study's synthetic), or k400/ssv2/ek100 from the paper's Table 4 "
                        "(default: the store's only evaluated dataset, else k400; EK100: action "
                        "top-1)")
    r.add_argument("--db", nargs="+", metavar="FILE", help=_DB_HELP)
    r.add_argument("--json", action="store_true", help="print JSON instead of a table")
    r.set_defaults(func=_cmd_recommend)
