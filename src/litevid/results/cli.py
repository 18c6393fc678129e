"""``litevid results``: show, export and merge the results store (no torch imported)."""

from __future__ import annotations

import argparse
import fnmatch
from typing import Any

DEFAULT_DB = "litevid-results.db"


def _open(path: str, readonly: bool = True):
    from .store import ResultStore

    return ResultStore(path, readonly=readonly)


def _filter(rows: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.mode:
        rows = [r for r in rows if r["mode"] == args.mode]
    if args.device:
        rows = [r for r in rows if args.device.lower() in (r.get("device_name") or "").lower()]
    if args.models:
        pats = [p.strip() for p in args.models.split(",") if p.strip()]
        rows = [r for r in rows if any(fnmatch.fnmatch(r["model"], p) for p in pats)]
    return rows


def _cmd_show(args: argparse.Namespace) -> int:
    from rich.table import Table

    from ..utils.console import make_console
    from .query import cross_device_average, latest_ok, relative_latency
    from .table import evaluation_table, measurement_table

    with _open(args.db) as store:
        rows = _filter(list(store.rows()), args)
        evals = [r for r in store.rows(table="evaluations")
                 if not args.models or any(fnmatch.fnmatch(r["model"], p.strip())
                                           for p in args.models.split(","))]
    console = make_console()
    if evals:
        console.print(evaluation_table(evals))
    if not rows:
        console.print(f"{args.db}: no results" + (" matching the filters" if
                                                  (args.mode or args.device or args.models) else ""))
        return 0
    shown = rows if args.all else latest_ok(rows) + _latest_failures(rows)
    by_device: dict[str, list[dict[str, Any]]] = {}
    for r in shown:
        by_device.setdefault(r.get("device_name") or "?", []).append(r)
    for device, group in by_device.items():
        hosts = ", ".join(sorted({r.get("hostname") or "?" for r in group}))
        console.print(measurement_table(
            group, f"{device} (host {hosts})",
            caption="relative = median / fastest model's median, per mode and settings; "
                    "GFLOPs, TFLOP/s: 1 multiply-add = 1 FLOP; CV > 10% marked '!'"))
    avg = cross_device_average(relative_latency(rows, metric=args.metric))
    devices = {d for e in avg for d in e["devices"]}
    if len(devices) > 1:
        table = Table(title=f"relative latency averaged over devices ({args.metric[:-3]})")
        for col in ("model", "mode", "batch", "input", "precision", "avg relative", "devices"):
            table.add_column(col, justify="left" if col in ("model", "mode") else "right")
        for e in avg:
            table.add_row(e["model"], e["mode"], str(e["batch"]),
                          f"{e['frames']}x{e['size']}x{e['size']}", e["precision"],
                          f"{e['relative']:.2f}", str(e["n_devices"]))
        console.print(table)
    console.print(f"{len(rows)} row(s) in {args.db}")
    return 0


def _latest_failures(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failed rows that have no later ``ok`` row for the same device/model/mode."""
    last: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        last[(r.get("device_name"), r["model"], r["mode"])] = r
    return [r for r in last.values() if r["status"] != "ok"]


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export_rows

    with _open(args.db) as store:
        rows = _filter(list(store.rows()), args)
    n = export_rows(rows, args.out, args.format)
    print(f"wrote {n} row(s) to {args.out}")
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    with _open(args.db, readonly=False) as store:
        added, present = store.merge(args.other)
        total = store.count()
    print(f"merged {args.other} into {args.db}: {added} row(s) added, {present} already present, "
          f"{total} in total")
    return 0


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=DEFAULT_DB, help=f"results database (default {DEFAULT_DB})")
    p.add_argument("--mode", choices=("train", "batch", "single"), help="only this mode")
    p.add_argument("--device", help="only devices whose name contains this text")
    p.add_argument("--models", help="comma-separated names or shell patterns")


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("results", help="show, export and merge benchmark results",
                              description="Read the SQLite results store written by "
                                          "`litevid bench`.")
    sub = p.add_subparsers(dest="results_command", metavar="ACTION", required=True)

    s = sub.add_parser("show", help="tables of the newest results with relative latency")
    _add_filters(s)
    s.add_argument("--all", action="store_true", help="every row, not only the newest per model")
    s.add_argument("--metric", default="median_ms", choices=("median_ms", "mean_ms"),
                   help="latency used for the cross-device average (the study used the mean)")
    s.set_defaults(func=_cmd_show)

    e = sub.add_parser("export", help="write the results as CSV or JSON (atomically)")
    _add_filters(e)
    e.add_argument("--format", required=True, choices=("csv", "json"))
    e.add_argument("--out", required=True, help="output file")
    e.set_defaults(func=_cmd_export)

    m = sub.add_parser("merge", help="add the rows of another results database (another machine)")
    m.add_argument("other", help="the other .db file")
    m.add_argument("--db", default=DEFAULT_DB, help=f"database to merge into (default {DEFAULT_DB})")
    m.set_defaults(func=_cmd_merge)
