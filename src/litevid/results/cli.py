"""``litevid results``: show, profile, export, merge and import into the results store.

No torch is imported, except by ``import``, which loads the model registry to check model names.
"""

from __future__ import annotations

import argparse
import fnmatch
from typing import Any

from ..utils.config import int_at_least

DEFAULT_DB = "litevid-results.db"


def _open(path: str, readonly: bool = True):
    """The store at ``--db``; for writing, its path is checked first (one line naming it)."""
    from .store import ResultStore

    if not readonly:
        from ..utils.paths import check_writable_file

        check_writable_file(path, "--db")
    return ResultStore(path, readonly=readonly)


def _filter(rows: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.mode:
        rows = [r for r in rows if r["mode"] == args.mode]
    if args.device:
        rows = [r for r in rows if args.device.lower() in (r.get("device_name") or "").lower()]
    if args.runtime:
        rows = [r for r in rows if (r.get("runtime") or "eager") == args.runtime]
    if args.models:
        pats = [p.strip() for p in args.models.split(",") if p.strip()]
        rows = [r for r in rows if any(fnmatch.fnmatch(r["model"], p) for p in pats)]
    return rows


def _cmd_show(args: argparse.Namespace) -> int:
    from rich.table import Table

    from ..utils.console import escape_markup, literal, make_console
    from .query import EAGER, cross_device_average, latest_ok, relative_latency
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
        console.print(f"{escape_markup(args.db)}: no results" + (" matching the filters" if (
            args.mode or args.device or args.models or args.runtime) else ""))
        return 0
    shown = rows if args.all else latest_ok(rows) + _latest_failures(rows)
    by_device: dict[str, list[dict[str, Any]]] = {}
    for r in shown:
        by_device.setdefault(r.get("device_name") or "?", []).append(r)
    for device, group in by_device.items():
        hosts = ", ".join(sorted({r["hostname"] for r in group if r.get("hostname")}))
        runtimes = any((r.get("runtime") or EAGER) != EAGER for r in group)
        console.print(measurement_table(
            group, f"{device} (host {hosts})" if hosts else device,  # imported rows: no host
            caption="relative = median / fastest model's median, per mode"
                    + (", runtime" if runtimes else "") + " and settings; "
                    + ("vs eager = median / eager PyTorch median of the same model and settings; "
                       if runtimes else "")
                    + "GFLOPs, TFLOP/s: 1 multiply-add = 1 FLOP; CV > 10% marked '!'"))
    avg = cross_device_average(relative_latency(rows, metric=args.metric))
    devices = {d for e in avg for d in e["devices"]}
    if len(devices) > 1:
        runtimes = any(e["runtime"] != EAGER for e in avg)
        table = Table(title=f"relative latency averaged over devices ({args.metric[:-3]}"
                            + (", per runtime" if runtimes else "") + ")")
        cols = ["model", "mode", "batch", "input", "precision", "avg relative", "devices"]
        if runtimes:
            cols.insert(2, "runtime")
        for col in cols:
            table.add_column(col, justify="left" if col in ("model", "mode", "runtime")
                             else "right")
        for e in avg:
            cells = {"model": e["model"], "mode": e["mode"], "runtime": e["runtime"],
                     "batch": str(e["batch"]), "input": f"{e['frames']}x{e['size']}x{e['size']}",
                     "precision": e["precision"], "avg relative": f"{e['relative']:.2f}",
                     "devices": str(e["n_devices"])}
            table.add_row(*(literal(cells[c]) for c in cols))
        console.print(table)
    console.print(f"{len(rows)} row(s) in {escape_markup(args.db)}")
    return 0


def _latest_failures(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failed rows that have no later ``ok`` row for the same device/runtime/model/mode."""
    last: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        last[(r.get("device_name"), r.get("runtime") or "eager", r["model"], r["mode"])] = r
    return [r for r in last.values() if r["status"] != "ok"]


def _cmd_export(args: argparse.Namespace) -> int:
    from ..utils.paths import check_writable_file
    from .export import export_rows

    check_writable_file(args.out, "--out")
    with _open(args.db) as store:
        rows = _filter(list(store.rows()), args)
    n = export_rows(rows, args.out, args.format)
    print(f"wrote {n} row(s) to {args.out}")
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    # The source is opened (and so checked: present, a results database, a schema this version
    # reads) before the target, which a failed merge must not create.
    with _open(args.other) as source, _open(args.db, readonly=False) as store:
        added, present = store.merge(source)
        total = store.count()
    print(f"merged {args.other} into {args.db}: {added} row(s) added, {present} already present, "
          f"{total} in total")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from .importer import read_import_csv

    rows = read_import_csv(args.file)  # every line checked before the database is touched
    with _open(args.db, readonly=False) as store:
        added = store.insert_many(rows, atomic=True)
        total = store.count()
    devices = sorted({(r.device_name, r.runtime) for r in rows})
    print(f"imported {args.file} into {args.db}: {added} row(s) added, {len(rows) - added} "
          f"already present, {total} in total; "
          + "; ".join(f"{d} ({rt})" for d, rt in devices))
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    from rich.table import Table

    from ..utils.console import escape_markup, literal, make_console
    from .table import settings_label

    with _open(args.db) as store:
        rows = [r for r in _filter(list(store.rows()), args) if r.get("profile")]
    console = make_console()
    if not rows:
        console.print(f"{escape_markup(args.db)}: no profiled rows" + (" matching the filters" if (
            args.mode or args.device or args.models or args.runtime) else "")
            + " (measure with litevid bench --profile)")
        return 0
    if not args.all:  # the newest profile per model, mode, batch and settings
        newest: dict[tuple, dict[str, Any]] = {}
        for r in rows:
            newest[(r.get("device_name"), r["model"], r["mode"], r.get("batch"),
                    settings_label(r), r.get("runtime"))] = r
        rows = list(newest.values())
    for r in rows:
        ops = r["profile"][:args.top]
        clock = ops[0].get("clock", "cpu") if ops else "cpu"
        table = Table(title=literal(
            f"{r['model']} {r['mode']} b{r.get('batch')} {settings_label(r)} on "
            f"{r.get('device_name')}: top operators by {clock} self time (per step; median step "
            f"{r.get('median_ms') or 0:.1f} ms)"))
        for col in ("operator", "calls", "self ms", "self %", "total ms"):
            table.add_column(col, justify="left" if col == "operator" else "right")
        for o in ops:
            table.add_row(*map(literal, (o["op"], f"{o['calls']:g}", f"{o['self_ms']:.2f}",
                                         f"{o['self_pct']:.1f}", f"{o['total_ms']:.2f}")))
        console.print(table)
    return 0


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=DEFAULT_DB, help=f"results database (default {DEFAULT_DB})")
    p.add_argument("--mode", choices=("train", "batch", "single"), help="only this mode")
    p.add_argument("--device", help="only devices whose name contains this text")
    p.add_argument("--models", help="comma-separated names or shell patterns")
    p.add_argument("--runtime", help="only this runtime (eager, onnxruntime, executorch-xnnpack, "
                                     "coreml-ane, ...)")


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("results", help="show, export, merge and import benchmark results",
                              description="Read the SQLite results store written by "
                                          "`litevid bench`, or add latencies measured elsewhere.")
    sub = p.add_subparsers(dest="results_command", metavar="ACTION", required=True)

    s = sub.add_parser("show", help="tables of the newest results with relative latency")
    _add_filters(s)
    s.add_argument("--all", action="store_true", help="every row, not only the newest per model")
    s.add_argument("--metric", default="median_ms", choices=("median_ms", "mean_ms"),
                   help="latency used for the cross-device average (the study used the mean)")
    s.set_defaults(func=_cmd_show)

    pr = sub.add_parser("profile", help="the stored operator profiles (litevid bench --profile)")
    _add_filters(pr)
    pr.add_argument("--top", type=int_at_least(1), default=15,
                    help="operators per row (default 15)")
    pr.add_argument("--all", action="store_true", help="every profiled row, not the newest")
    pr.set_defaults(func=_cmd_profile)

    e = sub.add_parser("export", help="write the results as CSV or JSON (atomically)")
    _add_filters(e)
    e.add_argument("--format", required=True, choices=("csv", "json"))
    e.add_argument("--out", required=True, help="output file")
    e.set_defaults(func=_cmd_export)

    m = sub.add_parser("merge", help="add the rows of another results database (another machine)")
    m.add_argument("other", help="the other .db file")
    m.add_argument("--db", default=DEFAULT_DB,
                   help=f"database to merge into (default {DEFAULT_DB})")
    m.set_defaults(func=_cmd_merge)

    from .importer import COLUMNS, DEFAULTS, REQUIRED

    optional = ", ".join(f"{c} (default {DEFAULTS[c]})" if c in DEFAULTS else c
                         for c in COLUMNS if c not in REQUIRED)
    i = sub.add_parser(
        "import", help="add latencies measured elsewhere (phones) from a CSV file",
        description=f"Add one measurement per CSV line (see docs/mobile.md). Required columns: "
                    f"{', '.join(REQUIRED)}. Optional: {optional}; frames and size default to "
                    "the model's input. Every line is checked first: one bad line imports "
                    "nothing. Importing a file again adds only lines not stored yet.")
    i.add_argument("file", help="the .csv file")
    i.add_argument("--db", default=DEFAULT_DB, help=f"database to add to (default {DEFAULT_DB})")
    i.set_defaults(func=_cmd_import)
