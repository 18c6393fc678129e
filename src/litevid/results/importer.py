"""``litevid results import``: latencies measured elsewhere (phones) as ``Measurement`` rows.

The ExecuTorch runner on Android and Xcode's Core ML performance report on iOS print latencies
that no litevid process sees; a CSV with one line per measurement brings them into the store, next
to the host rows, ranked within their own device and runtime (``query``). ``docs/mobile.md``
describes the whole path.

Every line is validated before anything is written, and the rows are written in one transaction:
a file with one bad line adds nothing. A row's ``uid`` is derived from the line's content (its
non-empty cells, plus which repeat of an identical line it is), so importing the same file twice,
or a file with lines added or corrected, adds only what is new.

No torch at import time; the model registry (which imports torch) is loaded only to check names.
"""

from __future__ import annotations

import csv
import datetime as _dt
import difflib
import hashlib
import io
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .measurement import Measurement, now_utc
from .stats import summarize

__all__ = ["COLUMNS", "DEFAULTS", "MODES", "OPTIONAL", "PRECISIONS", "REQUIRED",
           "read_import_csv"]

REQUIRED = ("model", "runtime", "device_name", "median_ms")
OPTIONAL = ("mode", "batch", "frames", "size", "precision", "mean_ms", "min_ms", "max_ms",
            "p90_ms", "p99_ms", "std_ms", "n", "device_type", "timer", "created_at", "samples_ms",
            "notes", "artefact_sha256")
COLUMNS = REQUIRED + OPTIONAL
MODES = ("single", "batch")
# What an imported row may say it ran in: the exporters' fp32/fp16, bf16, a quantised int8
# program, and the host benchmark's autocast names (devices.base.PRECISIONS).
PRECISIONS = ("fp32", "fp16", "bf16", "int8", "amp-fp16", "amp-bf16")
DEFAULTS: dict[str, Any] = {"mode": "single", "batch": 1, "precision": "fp32",
                            "device_type": "phone", "timer": "external"}
_STATS = ("median_ms", "mean_ms", "min_ms", "max_ms", "p90_ms", "p99_ms", "std_ms")
# Statistics given beside samples_ms must agree with the samples within this relative tolerance
# (p90/p99/std are recomputed with litevid's definitions and not compared: tools differ there).
_CHECKED = ("median_ms", "mean_ms", "min_ms", "max_ms")
_TOLERANCE = 0.01

# model name -> (in_chans, frames, size) of its default input
ModelInputs = Mapping[str, tuple[int, int, int]]


def _registry_inputs() -> dict[str, tuple[int, int, int]]:
    # Imports torch: only when importing, after the CSV header was checked.
    from litevid.models import list_models, model_spec

    return {n: (s.in_chans, s.frames, s.size) for n in list_models() for s in [model_spec(n)]}


class _LineError(ValueError):
    pass


def _float(cells: dict[str, str], name: str) -> float | None:
    """A latency cell: > 0 ms (a standard deviation may be 0)."""
    text = cells.get(name, "")
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise _LineError(f"{name} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and name != "std_ms"):
        raise _LineError(f"{name} must be a positive number of milliseconds, got {text!r}")
    return value


def _int(cells: dict[str, str], name: str) -> int | None:
    text = cells.get(name, "")
    if text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise _LineError(f"{name} {text!r} is not a whole number") from None
    if value <= 0:
        raise _LineError(f"{name} must be positive, got {text!r}")
    return value


def _samples(text: str) -> list[float] | None:
    if not text:
        return None
    parts = [p for p in re.split(r"[;,\s]+", text.strip("[] ")) if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise _LineError(f"samples_ms {text[:40]!r} is not a list of numbers "
                         "(separate them by spaces or semicolons)") from None
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise _LineError("samples_ms must be positive numbers of milliseconds")
    return values


def _timestamp(text: str) -> str:
    try:
        t = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise _LineError(f"created_at {text!r} is not an ISO 8601 date/time "
                         "(e.g. 2025-03-01T14:30:00+01:00)") from None
    if t.tzinfo is None:  # a bare date or local time: taken as UTC
        t = t.replace(tzinfo=_dt.timezone.utc)
    return t.astimezone(_dt.timezone.utc).isoformat(timespec="seconds")


def _content(cells: dict[str, str]) -> str:
    """A line's identity: its non-empty cells, whatever the column order."""
    return json.dumps({k: v for k, v in cells.items() if v != ""}, sort_keys=True)


def _uid(content: str, repeat: int) -> str:
    return hashlib.sha256(f"litevid-import\0{content}\0{repeat}".encode()).hexdigest()[:32]


def _row(cells: dict[str, str], models: ModelInputs, *, path: str, line: int, file_sha: str,
         now: str, uid: str) -> Measurement:
    for name in REQUIRED:
        if not cells.get(name) and not (name == "median_ms" and cells.get("samples_ms")):
            raise _LineError(f"{name} is empty (required" +
                             (", unless samples_ms is given)" if name == "median_ms" else ")"))
    model = cells["model"]
    if model not in models:
        close = difflib.get_close_matches(model, list(models), n=3)
        hint = f"did you mean {' or '.join(close)}?" if close else "see `litevid models`"
        raise _LineError(f"unknown model {model!r} ({hint})")
    mode = cells.get("mode") or DEFAULTS["mode"]
    if mode not in MODES:
        raise _LineError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    precision = cells.get("precision") or DEFAULTS["precision"]
    if precision not in PRECISIONS:
        raise _LineError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    stats = {name: _float(cells, name) for name in _STATS}
    n = _int(cells, "n")
    samples = _samples(cells.get("samples_ms", ""))
    if samples is not None:
        s = summarize(samples)
        computed = {"median_ms": s.median, "mean_ms": s.mean, "min_ms": s.min, "max_ms": s.max}
        for name in _CHECKED:
            given = stats[name]
            if given is not None and abs(given - computed[name]) > _TOLERANCE * computed[name]:
                raise _LineError(f"{name} {given:g} disagrees with samples_ms, whose "
                                 f"{name[:-3]} is {computed[name]:g}")
        if n is not None and n != s.n:
            raise _LineError(f"n {n} but samples_ms has {s.n} value(s)")
    elif (stats["min_ms"] or 0) > stats["median_ms"] or \
            stats["median_ms"] > (stats["max_ms"] or math.inf):  # median given (checked above)
        raise _LineError("min_ms <= median_ms <= max_ms does not hold")
    in_chans, spec_frames, spec_size = models[model]
    frames = _int(cells, "frames") or spec_frames
    size = _int(cells, "size") or spec_size
    settings: dict[str, Any] = {"source": "import", "file": path, "line": line,
                                "file_sha256": file_sha}
    for name in ("notes", "artefact_sha256"):
        if cells.get(name):
            settings[name] = cells[name]
    row = Measurement(
        uid=uid, created_at=_timestamp(cells["created_at"]) if cells.get("created_at") else now,
        model=model, mode=mode, runtime=cells["runtime"], batch=_int(cells, "batch") or 1,
        frames=frames, size=size, input_shape=f"{in_chans}x{frames}x{size}x{size}",
        precision=precision,
        device_type=cells.get("device_type") or DEFAULTS["device_type"],
        device_name=cells["device_name"], timer=cells.get("timer") or DEFAULTS["timer"],
        settings=settings)
    if samples is not None:
        row.set_latency(summarize(samples), samples)
    else:
        row.n = n
        row.mean_ms, row.median_ms = stats["mean_ms"], stats["median_ms"]
        row.p90_ms, row.p99_ms, row.std_ms = stats["p90_ms"], stats["p99_ms"], stats["std_ms"]
        row.min_ms, row.max_ms = stats["min_ms"], stats["max_ms"]
        if row.std_ms is not None and row.mean_ms is not None:
            row.cv = row.std_ms / row.mean_ms
    row.requested_batch = row.batch
    return row


def read_import_csv(path: str | Path, *, models: ModelInputs | None = None
                    ) -> list[Measurement]:
    """Read and validate an import CSV; one ``Measurement`` per data line.

    Blank lines and lines whose first cell starts with ``#`` are skipped. Line numbers in errors
    are the file's own (the header is line 1).

    Args:
        path: the CSV file (UTF-8, a BOM is accepted).
        models: registry name -> (in_chans, frames, size) of the default input; by default read
            from the model registry (which imports torch), after the header has been checked.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an empty file, a missing, unknown or repeated column, or a bad line (the
            first one is named, with how many more there are); nothing is returned then.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    lines: list[tuple[int, list[str]]] = []
    for cells in reader:
        if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        lines.append((reader.line_num, [c.strip() for c in cells]))
    if not lines:
        raise ValueError(f"{p}: empty file; expected a header line with the columns "
                         f"{', '.join(REQUIRED)} (and optionally {', '.join(OPTIONAL)})")
    header_line, header = lines[0]
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        close = [m for c in unknown for m in difflib.get_close_matches(c, COLUMNS, n=2)]
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise ValueError(f"{p}:{header_line}: unknown column(s) {', '.join(map(repr, unknown))}"
                         f"{hint}; allowed: {', '.join(COLUMNS)}")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise ValueError(f"{p}:{header_line}: column(s) {', '.join(repeated)} appear twice")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ValueError(f"{p}:{header_line}: missing required column(s) {', '.join(missing)}")
    if len(lines) == 1:
        raise ValueError(f"{p}: a header but no measurement lines")
    models = models if models is not None else _registry_inputs()
    file_sha = hashlib.sha256(data).hexdigest()
    now = now_utc()
    rows: list[Measurement] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for line, values in lines[1:]:
        if len(values) > len(header):
            errors.append(f"{p}:{line}: {len(values)} cells but the header has {len(header)} "
                          "columns (a comma inside a value? quote it)")
            continue
        if len(values) < len(header):  # a cut line, or a value missing: which one is unknown
            errors.append(f"{p}:{line}: {len(values)} cells but the header has {len(header)} "
                          "columns (a truncated line? leave an empty value as an empty cell)")
            continue
        cells = dict(zip(header, values))
        content = _content(cells)  # identical lines are repeats: each gets its own uid
        repeat = seen[content] = seen.get(content, -1) + 1
        try:
            rows.append(_row(cells, models, path=str(path), line=line, file_sha=file_sha, now=now,
                             uid=_uid(content, repeat)))
        except _LineError as exc:
            errors.append(f"{p}:{line}: {exc}")
    if errors:
        more = f" (and {len(errors) - 1} more bad line(s))" if len(errors) > 1 else ""
        raise ValueError(errors[0] + more + "; nothing imported")
    return rows
