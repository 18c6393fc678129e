"""Annotation readers for Kinetics-400, Something-Something V2, EPIC-KITCHENS-100 and plain lists.

Every reader returns an ``Annotations``: one ``ClipRecord`` per clip (where the frames are, which
frames, the labels, metadata) plus the class names of each label head. Datasets, ``litevid data
check`` and the statistics all work on that one type, so a format is only parsed here.

Formats (the official files, as distributed):

* **K400** CSV ``label,youtube_id,time_start,time_end,split[,is_cc]``; clips are trimmed video
  files named ``{youtube_id}_{time_start:06d}_{time_end:06d}.mp4`` (the common downloader
  layout; ``filename_template`` may also use ``{label}`` and ``{split}``). Classes come from the
  label map (one name per line) when given, else from the sorted CSV labels.
* **SSV2** labels JSON (template -> id) and the train/validation JSON lists (``id``, ``template``
  with ``[something]``, ``placeholders``); videos ``{id}.webm``. The frame-folder train list
  ``video_id start end class_id`` is read too (same format as ``list`` with one label).
* **EK100** CSV with 15 columns (as ``EPIC_100_validation.csv``), verb and noun class CSVs, frame
  folders ``{participant_id}/rgb_frames/{video_id}``. The list ``path start end verb noun`` is
  read too. Labels: ``verb``, ``noun`` and ``action``, the id of the verb-noun pair in the sorted
  pairs of the training set (pass ``action_map``; ``-1`` marks a pair unseen in training).
* **list**: ``path start_frame end_frame label [label ...]``, one clip per line, frame numbers
  inclusive (as in the RaivoKoot lists and mmaction2's rawframe lists).

Each reader is followed by its dataset's registry entry (``specs.DatasetSpec``): the file naming,
class files looked for beside the annotations, list frame rate and heads live there, and a reader
called with ``spec=`` follows that entry instead (``DatasetSpec.read`` does), so a dataset in an
existing format is one more entry. ``read_annotations(name, path)`` reads through the registry.

Every error names the file and, for a row, its line: a malformed row, an unknown label or an
empty file is a ``ValueError``; a missing file is a ``FileNotFoundError``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .specs import DatasetSpec, dataset_spec, register_dataset

__all__ = [
    "Annotations",
    "ClipRecord",
    "ek100_action_map",
    "read_annotations",
    "read_ek100",
    "read_k400",
    "read_list",
    "read_text",
    "read_ssv2",
]

_EK100_COLUMNS = ("participant_id", "video_id", "start_frame", "stop_frame", "verb_class",
                  "noun_class")


@dataclass(frozen=True, slots=True)
class ClipRecord:
    """One clip.

    Attributes:
        path: video file or frame folder, relative to the dataset root (or absolute).
        labels: class id per label head (``{"label": 3}``, or verb/noun/action for EK100).
        start_frame: first frame, inclusive (a frame-file number for folders, a 0-based decoded
            frame index for videos); ``None`` = the first frame of the file.
        end_frame: last frame, inclusive; ``None`` = the last frame of the file.
        duration: length in seconds when the annotation gives it (or frames and fps do).
        meta: anything else worth keeping (ids, narration, source line).
    """

    path: str
    labels: dict[str, int]
    start_frame: int | None = None
    end_frame: int | None = None
    duration: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int | None:
        """Frames in the annotated range, when the range is given."""
        if self.start_frame is None or self.end_frame is None:
            return None
        return self.end_frame - self.start_frame + 1


@dataclass
class Annotations:
    """The clips of one annotation file and the class names of each label head.

    Attributes:
        format: the registered dataset it was read as (``list_datasets()``).
        source: the annotation file.
        records: one record per clip, in file order.
        classes: label head -> class names indexed by id (``classes["label"][3]``).
    """

    format: str
    source: Path
    records: list[ClipRecord]
    classes: dict[str, list[str]]

    @property
    def heads(self) -> tuple[str, ...]:
        return tuple(self.classes)

    @property
    def num_classes(self) -> dict[str, int]:
        return {head: len(names) for head, names in self.classes.items()}

    def __len__(self) -> int:
        return len(self.records)


# ----------------------------------------------------------------------------- helpers


def _check_file(path: str | os.PathLike, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: {what} not found")
    if path.is_dir():
        raise ValueError(f"{path}: expected a {what}, got a folder")
    return path


def _int(value: str, path: Path, line: int, column: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{path}:{line}: {column} must be an integer, got {value!r}") from None


def read_text(path: str | os.PathLike) -> str:
    """A text file as UTF-8 (a byte-order mark, as spreadsheet programs write, is dropped).

    Bytes that are not UTF-8 are one ``ValueError`` naming the file, line and column, rather
    than a ``UnicodeDecodeError`` that names neither.
    """
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                         f"column {column}); save the file as UTF-8") from None


def _read_lines(path: Path) -> Iterable[tuple[int, str]]:
    for n, line in enumerate(read_text(path).splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield n, line


def _non_empty(records: list[ClipRecord], path: Path) -> list[ClipRecord]:
    if not records:
        raise ValueError(f"{path}: no clips in the annotation file")
    return records


def _csv_rows(path: Path, required: Sequence[str]) -> Iterable[tuple[int, dict[str, str]]]:
    """Rows of a headed CSV as dicts; a short/long row or a missing column is a ValueError."""
    with io.StringIO(read_text(path), newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty file (no CSV header)")
        header = [h.strip() for h in header]
        missing = [c for c in required if c not in header]
        if missing:
            raise ValueError(f"{path}: missing CSV column(s) {', '.join(missing)} "
                             f"(header: {','.join(header)})")
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise ValueError(f"{path}:{line}: expected {len(header)} columns, got {len(row)}")
            yield line, dict(zip(header, row))


def read_class_names(path: str | os.PathLike) -> list[str]:
    """Class names from a label map: one name per line (K400 ``label_map_k400.txt``)."""
    path = _check_file(path, "label map")
    names = [line for _n, line in _read_lines(path)]
    if not names:
        raise ValueError(f"{path}: empty label map")
    if len(set(names)) != len(names):
        dup = next(n for n, c in Counter(names).items() if c > 1)
        raise ValueError(f"{path}: class {dup!r} listed twice")
    return names


def _timestamp(value: str, path: Path, line: int) -> float:
    """``HH:MM:SS.ss`` (EPIC) -> seconds."""
    parts = value.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        return int(parts[0]) * 3600 + int(parts[1]) * 60 + float(parts[2])
    except ValueError:
        raise ValueError(f"{path}:{line}: bad timestamp {value!r} (expected HH:MM:SS.ss)") from None


# ----------------------------------------------------------------------------- Kinetics-400


def read_k400(path: str | os.PathLike, *, label_map: str | os.PathLike | None = None,
              filename_template: str | None = None, spec: DatasetSpec | None = None) -> Annotations:
    """Read an official Kinetics-400 CSV.

    Args:
        path: ``kinetics-400_{train,val}.csv``.
        label_map: class names, one a line (``label_map_k400.txt``); fixes the class ids. Without
            it ids follow the sorted labels of this CSV (differs between splits if one lacks a
            class, so pass it for training).
        filename_template: video file name relative to the root; fields ``youtube_id``,
            ``time_start``, ``time_end`` (ints), ``label``, ``split``. Default: the spec's.
        spec: the dataset entry to follow (default ``k400``).
    """
    spec = spec or K400
    filename_template = filename_template or spec.template
    path = _check_file(path, "Kinetics CSV")
    names = read_class_names(label_map) if label_map is not None else None
    rows = []
    for line, row in _csv_rows(path, ("label", "youtube_id", "time_start", "time_end")):
        start = _int(row["time_start"], path, line, "time_start")
        end = _int(row["time_end"], path, line, "time_end")
        if end <= start:
            raise ValueError(f"{path}:{line}: time_end {end} is not after time_start {start}")
        label = row["label"].strip()
        if not label:
            raise ValueError(f"{path}:{line}: empty label")
        rows.append((line, label, row["youtube_id"], start, end, row.get("split", "")))
    if not rows:
        raise ValueError(f"{path}: no clips in the annotation file")
    if names is None:
        names = sorted({r[1] for r in rows})
    ids = {n: i for i, n in enumerate(names)}
    records = []
    for line, label, yid, start, end, split in rows:
        if label not in ids:
            raise ValueError(f"{path}:{line}: unknown label {label!r} (not in label map {label_map})")
        file = filename_template.format(youtube_id=yid, time_start=start, time_end=end,
                                        label=label, split=split)
        records.append(ClipRecord(path=file, labels={"label": ids[label]},
                                  duration=float(end - start),
                                  meta={"youtube_id": yid, "time_start": start, "time_end": end}))
    return Annotations(spec.name, path, records, {"label": list(names)})


K400 = register_dataset(DatasetSpec(
    name="k400", reader=read_k400, labels_arg="label_map",
    template="{youtube_id}_{time_start:06d}_{time_end:06d}.mp4",
    help="official CSV (label,youtube_id,time_start,time_end,split[,is_cc]);\n"
         "--labels: label map, one class a line (fixes class ids; default: sorted CSV labels)."))


# ----------------------------------------------------------------------------- Something-Something V2


def read_ssv2_labels(path: str | os.PathLike) -> dict[str, int]:
    """The official ``something-something-v2-labels.json``: template (no brackets) -> id."""
    path = _check_file(path, "SSV2 labels JSON")
    try:
        raw = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: malformed JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{path}: expected a non-empty JSON object template -> id")
    try:
        labels = {str(k): int(v) for k, v in raw.items()}
    except (TypeError, ValueError):
        raise ValueError(f"{path}: class ids must be integers") from None
    if sorted(labels.values()) != list(range(len(labels))):
        raise ValueError(f"{path}: class ids are not 0..{len(labels) - 1}")
    return labels


def _ssv2_names(labels: dict[str, int]) -> list[str]:
    names = [""] * len(labels)
    for template, i in labels.items():
        names[i] = template
    return names


def read_ssv2(path: str | os.PathLike, *, labels: str | os.PathLike | None = None,
              filename_template: str | None = None, fps: float | None = None,
              spec: DatasetSpec | None = None) -> Annotations:
    """Read an SSV2 JSON list (official) or the frame-folder list ``video_id start end class_id``.

    Args:
        path: ``something-something-v2-{train,validation}.json`` or a ``.txt`` list.
        labels: the labels JSON; required for the JSON lists (templates map to ids through it),
            optional for a list (gives class names). When omitted, the spec's label file
            (``something-something-v2-labels.json``) beside ``path`` is used if present.
        filename_template: video name for JSON entries (field ``id``); default: the spec's.
        fps: frame rate used to turn list frame ranges into durations; default: the spec's
            (SSV2 webm videos, and the frames extracted from them, are 12 fps).
        spec: the dataset entry to follow (default ``ssv2``).
    """
    spec = spec or SSV2
    path = _check_file(path, "SSV2 annotation file")
    if labels is None and spec.label_files:
        labels = spec.beside(path, spec.label_files[0])
    label_ids = read_ssv2_labels(labels) if labels is not None else None
    if path.suffix.lower() != ".json":
        classes = {"label": _ssv2_names(label_ids)} if label_ids else None
        return read_list(path, label_names=("label",), classes=classes, fps=fps, spec=spec)
    if label_ids is None:
        raise ValueError(f"{path}: SSV2 JSON lists need the labels JSON "
                         "(something-something-v2-labels.json) to map templates to class ids")
    try:
        entries = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: malformed JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a JSON list of clips")
    records = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or "id" not in entry or "template" not in entry:
            raise ValueError(f"{path}: entry {n} needs 'id' and 'template' keys, got {entry!r:.80}")
        template = str(entry["template"]).replace("[", "").replace("]", "")
        if template not in label_ids:
            raise ValueError(f"{path}: entry {n} (id {entry['id']}): unknown label {template!r} "
                             f"(not in {labels})")
        records.append(ClipRecord(path=(filename_template or spec.template).format(id=entry["id"]),
                                  labels={"label": label_ids[template]},
                                  meta={"id": str(entry["id"]),
                                        "placeholders": entry.get("placeholders", [])}))
    return Annotations(spec.name, path, _non_empty(records, path),
                       {"label": _ssv2_names(label_ids)})


SSV2 = register_dataset(DatasetSpec(
    name="ssv2", reader=read_ssv2, template="{id}.webm", fps=12.0, flip=False,
    label_files=("something-something-v2-labels.json",),
    help="official JSON list (needs the labels JSON), or the frame-folder list\n"
         "'video_id start end class_id'; --labels: the labels JSON (template -> id)."))


# ----------------------------------------------------------------------------- EPIC-KITCHENS-100


def _read_ek100_classes(path: Path) -> list[str]:
    names: dict[int, str] = {}
    for line, row in _csv_rows(path, ("id", "key")):
        names[_int(row["id"], path, line, "id")] = row["key"]
    if not names:
        raise ValueError(f"{path}: no classes in the file")
    if sorted(names) != list(range(len(names))):
        raise ValueError(f"{path}: class ids are not 0..{len(names) - 1}")
    return [names[i] for i in range(len(names))]


def _find_ek100_classes(path: Path, classes: str | os.PathLike | None,
                        spec: DatasetSpec) -> tuple[Path | None, Path | None]:
    """Verb and noun class CSVs (the spec's label files): in a given folder, a given verb file
    (the noun file beside it), else beside the annotations."""
    verb_name, noun_name = spec.label_files
    if classes is None:
        return spec.beside(path, verb_name), spec.beside(path, noun_name)
    folder = Path(classes)
    if folder.is_file():
        noun = folder.with_name(folder.name.replace("verb", "noun"))
        return folder, noun if noun != folder and noun.exists() else None
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: EK100 class files folder not found")
    verb, noun = folder / verb_name, folder / noun_name
    if not verb.exists():
        raise FileNotFoundError(f"{verb}: EK100 verb classes not found")
    return verb, (noun if noun.exists() else None)


def read_ek100_video_fps(path: str | os.PathLike) -> dict[str, float]:
    """``EPIC_100_video_info.csv``: video_id -> fps (50 or 60)."""
    path = _check_file(path, "EK100 video info CSV")
    return {row["video_id"]: float(row["fps"])
            for _line, row in _csv_rows(path, ("video_id", "fps"))}


def ek100_action_map(records: Iterable[ClipRecord]) -> dict[tuple[int, int], int]:
    """Action ids: the sorted distinct (verb, noun) pairs of the given (training) records."""
    pairs = sorted({(r.labels["verb"], r.labels["noun"]) for r in records})
    return {pair: i for i, pair in enumerate(pairs)}


def read_ek100(path: str | os.PathLike, *, classes: str | os.PathLike | None = None,
               action_map: dict[tuple[int, int], int] | None = None,
               video_info: str | os.PathLike | None = None,
               folder_template: str | None = None, spec: DatasetSpec | None = None) -> Annotations:
    """Read an EPIC-KITCHENS-100 CSV (15 columns) or list ``path start end verb noun``.

    Args:
        path: ``EPIC_100_{train,validation}.csv`` or a list file.
        classes: folder holding the spec's label files (``EPIC_100_{verb,noun}_classes.csv``) or
            the verb CSV itself; default: beside ``path`` when present (else ids are reported
            without names).
        action_map: (verb, noun) -> action id from the training set (``ek100_action_map``).
            ``None`` defines it from this file, which is right for the training file only.
        video_info: ``EPIC_100_video_info.csv`` (fps per video) to give list clips a duration;
            default: the spec's ``info_file`` beside ``path`` when present.
        folder_template: frame folder of a CSV row (fields ``participant_id``, ``video_id``);
            default: the spec's.
        spec: the dataset entry to follow (default ``ek100``).
    """
    spec = spec or EK100
    folder_template = folder_template or spec.template
    path = _check_file(path, "EK100 annotation file")
    verb_file, noun_file = _find_ek100_classes(path, classes, spec)
    verbs = _read_ek100_classes(verb_file) if verb_file else None
    nouns = _read_ek100_classes(noun_file) if noun_file else None
    first = read_text(path).split("\n", 1)[0]
    records: list[ClipRecord] = []
    if first.startswith("narration_id") or "," in first:
        for line, row in _csv_rows(path, _EK100_COLUMNS):
            start = _int(row["start_frame"], path, line, "start_frame")
            stop = _int(row["stop_frame"], path, line, "stop_frame")
            if stop < start:
                raise ValueError(f"{path}:{line}: stop_frame {stop} before start_frame {start}")
            duration = None
            if row.get("start_timestamp") and row.get("stop_timestamp"):
                duration = (_timestamp(row["stop_timestamp"], path, line)
                            - _timestamp(row["start_timestamp"], path, line))
            labels = {"verb": _int(row["verb_class"], path, line, "verb_class"),
                      "noun": _int(row["noun_class"], path, line, "noun_class")}
            records.append(ClipRecord(
                path=folder_template.format(participant_id=row["participant_id"],
                                            video_id=row["video_id"]),
                labels=labels, start_frame=start, end_frame=stop, duration=duration,
                meta={"narration_id": row.get("narration_id", ""), "video_id": row["video_id"],
                      "narration": row.get("narration", ""), "line": line}))
        _non_empty(records, path)
    else:
        if video_info is None:
            video_info = spec.beside(path, spec.info_file)
        fps = read_ek100_video_fps(video_info) if video_info is not None else {}
        listed = read_list(path, label_names=("verb", "noun"))
        for r in listed.records:
            rate = fps.get(Path(r.path).name)
            dur = r.num_frames / rate if rate and r.num_frames else None
            records.append(ClipRecord(r.path, r.labels, r.start_frame, r.end_frame, dur, r.meta))
    for r in records:
        for head, names in (("verb", verbs), ("noun", nouns)):
            if names is not None and not 0 <= r.labels[head] < len(names):
                where = f"line {r.meta.get('line', '?')}"
                raise ValueError(f"{path}: {where}: unknown {head} class {r.labels[head]} "
                                 f"(classes 0..{len(names) - 1})")
    if action_map is None:
        action_map = ek100_action_map(records)
    records = [ClipRecord(r.path, {**r.labels, "action": action_map.get(
        (r.labels["verb"], r.labels["noun"]), -1)}, r.start_frame, r.end_frame, r.duration, r.meta)
        for r in records]
    verb_names = verbs or [str(i) for i in range(max(r.labels["verb"] for r in records) + 1)]
    noun_names = nouns or [str(i) for i in range(max(r.labels["noun"] for r in records) + 1)]
    action_names = [""] * len(action_map)
    for (v, n), i in action_map.items():
        vn = verb_names[v] if v < len(verb_names) else str(v)
        nn = noun_names[n] if n < len(noun_names) else str(n)
        action_names[i] = f"{vn} {nn}"
    return Annotations(spec.name, path, records,
                       {"verb": verb_names, "noun": noun_names, "action": action_names})


EK100 = register_dataset(DatasetSpec(
    name="ek100", reader=read_ek100, labels_arg="classes", heads=("verb", "noun", "action"),
    template="{participant_id}/rgb_frames/{video_id}",
    label_files=("EPIC_100_verb_classes.csv", "EPIC_100_noun_classes.csv"),
    info_file="EPIC_100_video_info.csv", options=("video_info", "action_map"),
    action_map=ek100_action_map,
    help="official CSV (15 columns) or the list 'P01/rgb_frames/P01_01 start end verb noun';\n"
         "--labels: folder with the verb and noun class CSVs, or the verb CSV. Reports verb,\n"
         "noun and action (distinct verb-noun pairs). List durations: fps per video from\n"
         "--video-info."))


# ----------------------------------------------------------------------------- plain lists


def read_list(path: str | os.PathLike, *, label_names: Sequence[str] | None = None,
              classes: dict[str, list[str]] | None = None, fps: float | None = None,
              label_map: str | os.PathLike | None = None,
              spec: DatasetSpec | None = None) -> Annotations:
    """Read ``path start_frame end_frame label [label ...]``, one clip per line.

    Args:
        path: the list file; blank lines and ``#`` comments are ignored.
        label_names: names of the label columns (``("verb", "noun")``); default ``label`` for one
            column, ``label0``, ``label1``, ... for several (inferred from the first line). When
            given, paths may contain spaces (columns are taken from the right).
        classes: class names per head; ids outside them are an unknown-label error. Without them
            the names are the ids.
        fps: frame rate to give clips a duration (frames / fps); default: the spec's.
        label_map: class names of the first label column, one a line (adds to ``classes``).
        spec: the dataset entry to follow (default ``list``).
    """
    spec = spec or LIST
    fps = fps or spec.fps
    if label_map is not None:
        classes = {**(classes or {}),
                   (label_names[0] if label_names else "label"): read_class_names(label_map)}
    path = _check_file(path, "annotation list")
    n_labels = len(label_names) if label_names else None
    records = []
    for line, text in _read_lines(path):
        parts = text.rsplit(None, 2 + n_labels) if n_labels else text.split()
        if n_labels is None:
            if len(parts) < 4:
                raise ValueError(f"{path}:{line}: expected 'path start_frame end_frame label "
                                 f"[label ...]', got {len(parts)} columns")
            n_labels = len(parts) - 3
            label_names = ("label",) if n_labels == 1 else tuple(f"label{i}" for i in range(n_labels))
        if len(parts) != 3 + n_labels:
            raise ValueError(f"{path}:{line}: expected {3 + n_labels} columns "
                             f"(path start end + {n_labels} label(s)), got {len(parts)}")
        start = _int(parts[1], path, line, "start_frame")
        end = _int(parts[2], path, line, "end_frame")
        if end < start:
            raise ValueError(f"{path}:{line}: end_frame {end} before start_frame {start}")
        labels = {}
        for head, value in zip(label_names, parts[3:]):
            labels[head] = _int(value, path, line, head)
            names = classes.get(head) if classes else None
            if labels[head] < 0 or (names is not None and labels[head] >= len(names)):
                limit = f"0..{len(names) - 1}" if names is not None else ">= 0"
                raise ValueError(f"{path}:{line}: unknown {head} {labels[head]} (classes {limit})")
        duration = (end - start + 1) / fps if fps else None
        records.append(ClipRecord(parts[0], labels, start, end, duration, {"line": line}))
    _non_empty(records, path)
    out_classes = {}
    for head in label_names:
        if classes and head in classes:
            out_classes[head] = list(classes[head])
        else:
            out_classes[head] = [str(i) for i in range(max(r.labels[head] for r in records) + 1)]
    return Annotations(spec.name, path, records, out_classes)


LIST = register_dataset(DatasetSpec(
    name="list", reader=read_list, labels_arg="label_map", heads=None, options=("label_names",),
    help="'path start_frame end_frame label [label ...]'; --label-names verb,noun names the\n"
         "label columns (the distinct combinations are reported as 'verb+noun');\n"
         "--labels: class names of the first column, one a line; --fps gives durations."))


# ----------------------------------------------------------------------------- dispatch


def read_annotations(name: str, path: str | os.PathLike, *,
                     labels: str | os.PathLike | None = None,
                     label_names: Sequence[str] | None = None, fps: float | None = None,
                     video_info: str | os.PathLike | None = None,
                     action_map: dict[tuple[int, int], int] | None = None,
                     filename_template: str | None = None) -> Annotations:
    """Read an annotation file of any registered dataset (``dataset_spec(name).read``).

    ``labels`` is the dataset's class file: the K400 label map, the SSV2 labels JSON, the EK100
    class folder (or verb CSV), or for ``list`` a class-name file (one a line) for the first label
    column. ``label_names``, ``video_info`` and ``action_map`` go to readers that take them.
    """
    return dataset_spec(name).read(path, labels=labels, template=filename_template, fps=fps,
                                   label_names=label_names, video_info=video_info,
                                   action_map=action_map)
