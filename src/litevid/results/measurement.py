"""Typed result rows: the dataclasses from which the results store's tables are generated.

``Row`` holds what every stored result has (identity, model, status, where and with which
software it ran, the resolved settings and environment). A kind of result subclasses it, adds its
own typed fields and names its table; the SQLite columns come from the fields (``sql_columns``),
so a column is declared once. Today's kinds:

- ``Measurement`` (table ``measurements``): one timed (model, mode) job of ``litevid bench``, the
  data-loader rows of ``litevid data bench`` (mode ``loader``) and latencies measured elsewhere
  (phones) brought in by ``litevid results import`` (``results.importer``).

- ``Evaluation`` (table ``evaluations``): accuracy of a trained model on a split, with the
  training cost (epochs, wall time, GPU-hours, time to best) and the checkpoint/annotation hashes.

A further kind is a subclass with its own table, listed in ``ROW_TYPES``. Adding a kind or a
field is additive: bump ``SCHEMA_VERSION`` in ``store.py`` and
say what changed in its ``SCHEMA_HISTORY``; older files get the new tables/columns on open.

No torch here (reports read the store anywhere).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import typing
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["ENV_FIELDS", "ROW_TYPES", "Evaluation", "Measurement", "Row", "now_utc", "sql_columns"]

# Environment fields copied from a device backend's ``environment()`` into every row.
ENV_FIELDS = ("device_type", "device_name", "cpu_model", "hostname", "torch_version",
              "cuda_version", "cudnn_version", "num_threads", "litevid_version", "git_rev")


def now_utc() -> str:
    """ISO 8601 timestamp in UTC, seconds resolution."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _uid() -> str:
    return uuid.uuid4().hex


@dataclass(kw_only=True)
class Row:
    """Fields every stored result has. Subclasses set ``TABLE`` and add their own fields."""

    TABLE: ClassVar[str] = ""
    INDEX: ClassVar[tuple[str, ...]] = ("model",)  # columns of the table's lookup index

    uid: str = field(default_factory=_uid)  # random id: merging the same row twice is a no-op
    created_at: str = field(default_factory=now_utc)  # ISO 8601, UTC
    model: str  # registry name
    status: str = "ok"  # ok | oom | error: <message>
    device_type: str | None = None
    device_name: str | None = None
    cpu_model: str | None = None
    hostname: str | None = None
    torch_version: str | None = None
    cuda_version: str | None = None
    cudnn_version: str | None = None
    num_threads: int | None = None
    litevid_version: str | None = None
    git_rev: str | None = None
    settings: dict[str, Any] | None = None  # JSON: the resolved job/run configuration
    env: dict[str, Any] | None = None  # JSON: the full environment record

    def set_environment(self, env: dict[str, Any]) -> None:
        """Copy the environment record into the row (flat columns and the full JSON)."""
        for name in ENV_FIELDS:
            setattr(self, name, env.get(name))
        self.env = env

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Row:
        """Build a row from a dict (a decoded store row, a worker's JSON); unknown keys raise."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names - {"id"}
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(sorted(unknown))}")
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclass(kw_only=True)
class Measurement(Row):
    """One timed job: a model in one mode at one batch and input, with its statistics.

    Latency fields are milliseconds per step (per clip for loader rows); ``samples_ms`` keeps
    every timed iteration so any statistic can be recomputed (imported rows may have statistics
    without samples). ``gflops`` is per step at this batch (1 multiply-add = 1 FLOP; a training
    step counts forward and backward).
    """

    TABLE: ClassVar[str] = "measurements"
    INDEX: ClassVar[tuple[str, ...]] = ("device_name", "mode", "model")

    mode: str  # train | batch | single | loader
    batch: int | None = None  # batch measured
    requested_batch: int | None = None  # batch asked for (differs only with --fit-batch)
    frames: int | None = None
    size: int | None = None
    input_shape: str | None = None  # C x T x H x W of one clip
    precision: str | None = None
    # What executed the timed step: eager (PyTorch) | onnxruntime | executorch | torchscript-lite |
    # coreml, or an imported runtime name such as executorch-xnnpack or coreml-ane. Rows are only
    # ranked against rows of the same runtime (``query.COMPARE_KEYS``).
    runtime: str = "eager"
    channels_last: bool = False
    compile: bool = False
    # The deployment-speed form (``litevid.optimize``: BN folded, measured layout, ...) was timed,
    # not the plain model the study measured; ``settings["optimize"]`` says what it applied.
    optimized: bool = False
    n: int | None = None
    mean_ms: float | None = None
    median_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    std_ms: float | None = None
    iqr_ms: float | None = None
    cv: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    timed_s: float | None = None  # wall time of the timed loop
    cpu_s: float | None = None  # CPU time of this process during the timed loop
    timer: str | None = None  # cuda_event | perf_counter | synchronize+perf_counter | external
    compile_s: float | None = None
    gflops: float | None = None
    tflops: float | None = None  # gflops / median, same convention
    peak_mem_bytes: int | None = None
    mem_kind: str | None = None  # what peak_mem_bytes is (the device backend's measure_memory)
    mem_detail: dict[str, Any] | None = None  # JSON
    samples_ms: list[float] | None = None  # JSON: every timed iteration
    breakdown_ms: dict[str, float] | None = None  # JSON: mean ms per stage (loader, predict)
    # JSON (``litevid bench --profile``): the top operators by self time over a few extra steps,
    # each ``{"op", "calls", "self_ms", "self_pct", "total_ms"}`` per step.
    profile: list[dict[str, Any]] | None = None
    # JSON: passes after the timed loop that failed, e.g. ``{"memory": "oom"}``; the latency of
    # such a row was measured in full and stands (status stays ``ok``), the failed pass's
    # numbers are missing.
    pass_errors: dict[str, str] | None = None

    def set_latency(self, stats: Any, samples_ms: list[float]) -> None:
        """Fill the statistics from a ``results.stats.LatencyStats`` of ``samples_ms``."""
        self.n = stats.n
        self.mean_ms, self.median_ms = stats.mean, stats.median
        self.p90_ms, self.p99_ms = stats.p90, stats.p99
        self.std_ms, self.iqr_ms, self.cv = stats.std, stats.iqr, stats.cv
        self.min_ms, self.max_ms = stats.min, stats.max
        self.samples_ms = list(samples_ms)


@dataclass(kw_only=True)
class Evaluation(Row):
    """One evaluation of a trained model on a dataset split (``litevid train`` / ``eval``).

    ``top1``/``top5``/``mean_class_acc`` are of the main head (the label; the action for
    EPIC-KITCHENS-100, correct iff verb and noun are); ``metrics`` holds every head. Training
    fields are ``None`` when the checkpoint's history is unknown (a foreign state dict).
    """

    TABLE: ClassVar[str] = "evaluations"
    INDEX: ClassVar[tuple[str, ...]] = ("model", "dataset", "split")

    dataset: str
    split: str
    clips: int | None = None  # clips evaluated (valid labels of the main head)
    clips_total: int | None = None  # clips in the split; clips_total - len(failed_clips) decoded
    failed_clips: list[Any] | None = None  # JSON [{clip, reason}]: not read, so not scored
    clip_warnings: list[Any] | None = None  # JSON [{clip, reason}]: scored, from a file cut short
    views: str = "1x1"  # temporal views x spatial crops (the study: one centre clip, one crop)
    frames: int | None = None
    size: int | None = None
    precision: str | None = None
    top1: float | None = None
    top5: float | None = None
    mean_class_acc: float | None = None
    metrics: dict[str, Any] | None = None  # JSON: per head clips / top1 / top5 / mean class acc
    epochs: int | None = None  # epochs trained
    best_epoch: int | None = None  # epoch of the evaluated (best) weights
    train_wall_s: float | None = None  # training wall time, evaluations included
    time_to_best_s: float | None = None  # training wall time until the best epoch ended
    gpu_hours: float | None = None  # train_wall_s x GPUs / 3600 (None when trained on CPU)
    world_size: int | None = None
    eval_wall_s: float | None = None
    checkpoint: str | None = None
    checkpoint_sha256: str | None = None
    annotations: str | None = None
    annotations_sha256: str | None = None


# Every kind of row the store holds; one table each.
ROW_TYPES: tuple[type[Row], ...] = (Measurement, Evaluation)

_SQL_TYPES = {str: "TEXT", int: "INTEGER", float: "REAL", bool: "INTEGER"}


def _sql_type(annotation: Any) -> tuple[str, bool, bool]:
    """(SQL type, nullable, stored as JSON) of a field annotation."""
    args = typing.get_args(annotation)
    nullable = type(None) in args
    if nullable:
        (annotation,) = [a for a in args if a is not type(None)]
    base = typing.get_origin(annotation) or annotation
    if base in (dict, list):
        return "TEXT", nullable, True
    return _SQL_TYPES[base], nullable, False


def sql_columns(row_type: type[Row]) -> list[tuple[str, str, bool]]:
    """``(name, SQL declaration, is_json)`` per field of ``row_type``, in field order."""
    hints = typing.get_type_hints(row_type)
    out = []
    for f in dataclasses.fields(row_type):
        sql, nullable, is_json = _sql_type(hints[f.name])
        required = not nullable and f.default is dataclasses.MISSING and \
            f.default_factory is dataclasses.MISSING  # type: ignore[misc]
        decl = sql + (" NOT NULL" if required or f.name in ("uid", "created_at", "status") else "")
        if f.name == "uid":
            decl += " UNIQUE"
        out.append((f.name, decl, is_json))
    return out
