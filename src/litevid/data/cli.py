"""``litevid data``: check annotation files and datasets, and measure loader throughput.

Registered by ``litevid.cli`` through ``add_parser(subparsers)``. Bad input raises
``ValueError``/``FileNotFoundError``, which the top-level command prints as one line and exits 2.
"""

from __future__ import annotations

import argparse
import os
import textwrap
from pathlib import Path
from typing import Any

from ..utils.config import MAX_SEED, bounded, int_at_least
from ..utils.io import write_json
from ..utils.paths import check_results_db, check_writable_file

__all__ = ["add_parser", "check_clip", "run_check"]

_CHECK_INTRO = """\
Report annotation statistics: clips, classes (EK100: verbs, nouns, actions), clips per class,
mean +- std clip duration where the annotation allows it. With --root, also open every clip and
list each missing, undecodable or too-short one with its reason (exit status 1 if any).

What --annotations and --labels mean per format (the registered datasets):
"""

_CHECK_EXAMPLES = """
Examples (Table 3 of the study):
  litevid data check --format ek100 --annotations EPIC_100_train_list.txt
  litevid data check --format ssv2 --annotations something-something-v2-validation.json
  litevid data check --format k400 --annotations kinetics-400_val.csv --labels label_map_k400.txt
"""


def _check_help() -> str:
    """``--help`` of ``check``: each dataset's own help plus what its registry entry defaults."""
    from .specs import dataset_spec, list_datasets

    parts = [_CHECK_INTRO]
    for name in list_datasets(annotated=True):
        spec = dataset_spec(name)
        lines = spec.help.splitlines()
        if spec.template:
            lines.append(f"Files: {spec.template} under --root (--template).")
        beside = [*spec.label_files, *([spec.info_file] if spec.info_file else [])]
        if beside:
            lines += textwrap.wrap(f"Found beside the annotations: {', '.join(beside)}.", 86)
        if spec.fps:
            lines.append(f"List durations use --fps (default {spec.fps:g}).")
        parts.append("\n".join(f"  {name:<6} {line}" if i == 0 else f"         {line}"
                               for i, line in enumerate(lines)) + "\n")
    return "".join(parts) + _CHECK_EXAMPLES


def check_clip(record: Any, root: str | None, min_frames: int = 1) -> str | None:
    """``None`` if the clip exists, decodes (first and last frame), has ``min_frames`` and, for
    a whole-file clip, is not cut short (``VideoInfo.truncated``); otherwise the reason, naming
    the file."""
    from .datasets import resolve_clip_range
    from .decode import open_video

    path = record.path if root is None or os.path.isabs(record.path) else os.path.join(root, record.path)
    try:
        with open_video(path) as video:  # one open for the frame count and the decode
            start, end = resolve_clip_range(record, video)
            if end - start + 1 < min_frames:
                return f"{path}: only {end - start + 1} frames, need at least {min_frames}"
            video.read([start, end])
            cut = video.info.truncated if record.end_frame is None else None
            if cut:
                return f"{path}: {cut}"
    except (ValueError, OSError) as exc:
        return str(exc) or f"{path}: {type(exc).__name__}"
    return None


def _check_chunk(args: tuple[list[Any], str | None, int]) -> list[str | None]:
    records, root, min_frames = args
    return [check_clip(r, root, min_frames) for r in records]


def run_check(args: argparse.Namespace) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Statistics of the annotation file and, with ``--root``, the list of bad clips."""
    from .annotations import read_annotations
    from .stats import annotation_stats
    from .specs import dataset_spec, list_datasets

    label_names = tuple(n.strip() for n in args.label_names.split(",")) if args.label_names else None
    if label_names and ("label_names" not in dataset_spec(args.format).options
                        or not all(label_names)):
        takes = [n for n in list_datasets(annotated=True)
                 if "label_names" in dataset_spec(n).options]
        raise ValueError(f"--label-names applies to --format {'/'.join(takes)}, as "
                         "comma-separated names")
    ann = read_annotations(args.format, args.annotations, labels=args.labels,
                           label_names=label_names, fps=args.fps, video_info=args.video_info,
                           filename_template=args.template)
    stats = annotation_stats(ann)
    bad: list[dict[str, Any]] = []
    if args.root is None:
        return stats, bad
    root = os.fspath(args.root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: --root folder not found")
    records = ann.records[: args.limit] if args.limit else ann.records
    chunk = 64
    chunks = [(records[i:i + chunk], root, args.min_frames) for i in range(0, len(records), chunk)]
    from rich.progress import Progress

    results: list[str | None] = []
    with Progress(transient=True) as progress:
        task = progress.add_task("checking clips", total=len(records))
        if args.workers > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(args.workers) as pool:
                for part in pool.map(_check_chunk, chunks):
                    results.extend(part)
                    progress.advance(task, len(part))
        else:
            for c in chunks:
                part = _check_chunk(c)
                results.extend(part)
                progress.advance(task, len(part))
    for i, (record, reason) in enumerate(zip(records, results)):
        if reason is not None:
            bad.append({"index": i, "path": record.path, "reason": reason})
    stats["checked"] = {"root": root, "clips": len(records), "bad": len(bad),
                        "min_frames": args.min_frames}
    return stats, bad


def _cmd_check(args: argparse.Namespace) -> int:
    if args.json:
        check_writable_file(args.json, "--json")  # before the clips are read, not after
    stats, bad = run_check(args)
    if args.json:
        write_json(args.json, {**stats, "bad_clips": bad})
    from rich.table import Table

    from ..utils.console import make_console

    console = make_console()
    dur = stats["duration_s"]
    dur_text = f"{dur['mean']:.1f} +- {dur['std']:.1f} s (n={dur['n']:,})" if dur else "n/a"
    console.print(f"[bold]{stats['annotations']}[/] ({stats['format']}): "
                  f"{stats['clips']:,} clips, duration {dur_text}")
    table = Table()
    for col in ("head", "classes present", "classes defined", "clips/class min", "median", "max"):
        table.add_column(col, justify="left" if col == "head" else "right")
    for head, h in stats["heads"].items():
        cpc = h["clips_per_class"]
        table.add_row(head, f"{h['classes_present']:,}", f"{h['classes_defined']:,}",
                      f"{cpc['min']:,}", f"{cpc['median']:,.0f}", f"{cpc['max']:,}")
    console.print(table)
    for head, h in stats["heads"].items():
        if h.get("unmapped_clips"):
            console.print(f"{head}: {h['unmapped_clips']:,} clips with a pair unseen in training (-1)")
    if "checked" in stats:
        c = stats["checked"]
        console.print(f"checked {c['clips']:,} clips under {c['root']}: {c['bad']:,} bad")
        for b in bad[: args.show_bad]:
            console.print(f"  bad clip {b['index']}: {b['reason']}", markup=False, highlight=False)
        if len(bad) > args.show_bad:
            console.print(f"  ... {len(bad) - args.show_bad:,} more (all in --json)")
    return 1 if bad else 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from ..results.store import ResultStore
    from .bench import bench_loader

    check_results_db(args.db, "--db")  # a bad --db or --json fails before the timing
    if args.json:
        check_writable_file(args.json, "--json")
    row = bench_loader(args.video, model=args.model, frames=args.frames, size=args.size,
                       short_side=args.short_side, clips=args.clips, warmup=args.warmup,
                       train=not args.eval, augment=args.augment, dataset=args.dataset,
                       seed=args.seed)
    with ResultStore(args.db) as store:  # created only for a row: a failed run leaves no file
        store.insert(row)
    if args.json:
        write_json(args.json, row.to_dict())
    st, cfg = row.breakdown_ms, row.settings
    print(f"{len(cfg['videos'])} video(s), {row.n} {'train' if cfg['train'] else 'eval'} clips -> "
          f"{row.input_shape} {'uint8' if row.precision == 'uint8' else 'float32'}, "
          f"augment={cfg['augment']}, 1 thread ({args.model} input contract)")
    cpu_text = f", {row.n / row.cpu_s:.1f} clips per CPU-second (per core)" if row.cpu_s else ""
    print(f"  {row.n / row.timed_s:.1f} clips/s wall{cpu_text}")
    print(f"  ms/clip: info {st['info']:.1f}, sample {st['sample']:.2f}, decode {st['decode']:.1f}, "
          f"transform {st['transform']:.1f} (mean {row.mean_ms:.1f}, median {row.median_ms:.1f}, "
          f"p90 {row.p90_ms:.1f})")
    print(f"  row written to {args.db} (mode {row.mode})")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``litevid data`` with ``check`` and ``bench``."""
    p = subparsers.add_parser("data", help="check datasets and annotation files, loader throughput",
                              description="Video data tools: annotation statistics and clip "
                                          "checks, data-loader throughput.")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    p.set_defaults(func=lambda a: p.print_help() or 0)

    from .specs import list_datasets

    c = sub.add_parser("check", help="annotation statistics; with --root, verify every clip",
                       description=_check_help(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("--format", required=True, choices=list_datasets(annotated=True),
                   help="a registered dataset read from annotation files")
    c.add_argument("--annotations", required=True, type=Path, help="annotation file of one split")
    c.add_argument("--labels", type=Path, help="class file of the format (see above)")
    c.add_argument("--label-names", help="list format: comma-separated label column names")
    c.add_argument("--fps", type=bounded(float, gt=0), help="frame rate for list durations "
                   "(default: the dataset's, see above)")
    c.add_argument("--video-info", type=Path, help="ek100 list: EPIC_100_video_info.csv")
    c.add_argument("--template", help="file/folder naming, e.g. '{label}/{youtube_id}.mp4' (k400)")
    c.add_argument("--root", type=Path, help="dataset folder: verify each clip exists and decodes")
    c.add_argument("--min-frames", type=int_at_least(1), default=1,
                   help="with --root: clips with fewer frames are bad (default 1; TSN repeats "
                        "frames of short clips)")
    c.add_argument("--limit", type=int_at_least(1),
                   help="with --root: check only the first N clips")
    c.add_argument("--workers", type=int_at_least(1), default=1,
                   help="with --root: processes (default 1)")
    c.add_argument("--show-bad", type=int_at_least(0), default=20,
                   help="bad clips to print (default 20; all of them are in --json)")
    c.add_argument("--json", metavar="OUT", type=Path, help="also write the report as JSON")
    c.set_defaults(func=_cmd_check)

    b = sub.add_parser("bench", help="decode + sample + augment clips/s of one loader worker",
                       description="Measure what one DataLoader worker delivers on one core: frame "
                                   "count, TSN sampling, sparse decoding with resize on uint8, "
                                   "crop/flip/normalise (kornia augmentation too with --augment "
                                   "worker). Torch and the decoder use one thread.")
    b.add_argument("--video", required=True, nargs="+", type=Path,
                   help="video files or frame folders (e.g. ../shared/data/videos/demo.mp4)")
    b.add_argument("--model", default="tsm_r50",
                   help="registry name whose input contract (frames, size, mean/std) the clips "
                        "follow (default tsm_r50: 16x224, ImageNet normalisation)")
    b.add_argument("--frames", type=int_at_least(1), help="clip length (default: the model's)")
    b.add_argument("--size", type=int_at_least(1), help="crop size (default: the model's)")
    b.add_argument("--short-side", type=int_at_least(1), help="resize before crop (default "
                   "size*8/7)")
    b.add_argument("--clips", type=int_at_least(1), default=100, help="timed clips (default 100)")
    b.add_argument("--warmup", type=int_at_least(0), default=5,
                   help="untimed clips first (default 5)")
    b.add_argument("--eval", action="store_true", help="segment centres + centre crop")
    b.add_argument("--augment", choices=("batch", "worker", "off"), default="batch",
                   help="batch: worker returns uint8 clips, kornia runs per batch on the device "
                        "(default); worker: kornia per clip on this CPU; off: crop/flip/normalise")
    b.add_argument("--dataset", default="k400", choices=list_datasets(),
                   help="augmentation defaults of this dataset (default k400)")
    b.add_argument("--seed", type=bounded(int, ge=0, le=MAX_SEED), default=0,
                   help="seed of the sampled frames and crops (default 0)")
    b.add_argument("--db", default="litevid-results.db",
                   help="SQLite results store the row is added to (default litevid-results.db)")
    b.add_argument("--json", metavar="OUT", type=Path, help="also write the row as JSON")
    b.set_defaults(func=_cmd_bench)
