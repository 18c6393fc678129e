"""A study as data: the TOML study file (or a preset, or flags), read and checked in one place.

A study file names what to measure and train; everything else is the recipe's defaults::

    [study]
    name = "ssv2-ek100"                  # the folder is studies/<name> unless --out / out = ...
    models = ["movinet_a0", "x3d_xs", "tsm_r50"]   # or "all"
    modes = ["train", "batch", "single"] # benchmark modes ([] = no benchmarks)
    devices = ["cuda"]                   # benchmark devices: cpu, cuda, cuda:N, mps
    train_device = "cuda"                # where training and evaluation run (default auto)
    frames = 16                          # clip length and size for training and benchmarks
    size = 224                           #   (default: the dataset's / the model's)
    import = ["my_models"]               # modules registering your own models

    [recipe]                             # litevid train settings for every training job
    epochs = 35

    [bench]                              # litevid bench settings for every benchmark
    iters = 100

    [eval]                               # litevid eval settings for every evaluation
    batch_size = 16

    [datasets.ssv2]                      # one table per dataset: the files it reads
    annotations = "/data/ssv2/train.json"
    val_annotations = "/data/ssv2/validation.json"
    labels = "/data/ssv2/labels.json"
    root = "/data/ssv2/videos"

    [per_model.tsm_r50]                  # recipe settings of one model (e.g. its weights)
    pretrained = "/weights/resnet50_in1k.pth"

    [run]                                # how to run: local (default) or slurm
    jobs = 2

    [slurm]
    partition = "gpu"

Relative paths are relative to the study file. ``read_study`` refuses, before anything runs, an
unknown section or key, model, dataset, mode or device, a recipe value out of range, and a missing
annotation file or folder, each as one ``ValueError`` naming the file and the entry.
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DatasetEntry", "PRESETS", "StudySpec", "apply_sets", "check_devices_of", "read_study"]

# Train settings the study decides per job (never given in [recipe]).
_STUDY_OWNED_TRAIN = ("model", "dataset", "annotations", "val_annotations", "root", "val_root",
                      "labels", "out", "resume", "force", "db", "device", "import_modules",
                      "num_clips")
_STUDY_OWNED_BENCH = ("models", "modes", "device", "db", "json", "import_modules", "in_process")
_EVAL_KEYS = ("batch_size", "workers", "precision", "on_error")
_DATASET_FILES = ("annotations", "val_annotations", "eval_annotations", "root", "val_root",
                  "labels")
_DATASET_KEYS = (*_DATASET_FILES, "eval_split", "num_clips", "eval_num_clips", "recipe")
_STUDY_KEYS = ("name", "models", "modes", "devices", "train_device", "frames", "size", "import",
               "out", "tensorboard")
RUN_KEYS = ("executor", "jobs", "gpus", "gpus_per_train")
SLURM_KEYS = ("partition", "account", "qos", "constraint", "time_min", "cpus_per_task",
              "mem_gb", "array_parallelism", "exclusive_cpu_bench",
              "additional")
_SECTIONS = ("study", "recipe", "bench", "eval", "datasets", "per_model", "run", "slurm")


# The smoke preset: every registered model, briefly, on the built-in synthetic dataset (8 classes)
# at 8x64 clips on the CPU: 64 training clips x 3 epochs at batch 4 (48 optimizer steps at the
# recipe's learning rates), the best epoch evaluated on 64 test clips, and single-clip benchmarks
# (1 warm-up, at least 5 timed runs and 1 s). About 15 minutes on a 2-core CPU at two jobs at once.
PRESETS: dict[str, str] = {"smoke": """\
[study]
name = "smoke"
models = "all"
modes = ["single"]
devices = ["cpu"]
train_device = "cpu"
frames = 8
size = 64

[recipe]
epochs = 3
batch_size = 4
effective_batch = 4
workers = 0

[bench]
warmup = 1
iters = 5
max_iters = 20
min_seconds = 1.0

[eval]
batch_size = 8
workers = 0

[datasets.synthetic]
num_clips = 64
eval_split = "test"
eval_num_clips = 64

[run]
jobs = 2
"""}


@dataclass
class DatasetEntry:
    """One dataset of a study: its registered name and the files it reads (absolute paths)."""

    name: str
    annotations: str | None = None
    val_annotations: str | None = None
    eval_annotations: str | None = None  # the split to evaluate (default: val_annotations)
    root: str | None = None
    val_root: str | None = None
    labels: str | None = None
    eval_split: str | None = None  # default val ("test" for a generated set)
    num_clips: int | None = None  # generated sets only: training clips
    eval_num_clips: int | None = None  # generated sets only: clips evaluated
    recipe: dict[str, Any] = field(default_factory=dict)  # train settings for this dataset


@dataclass
class StudySpec:
    """A checked study: what to run. ``sha256`` is of the study's text (file or preset)."""

    name: str
    models: list[str]
    modes: list[str]
    devices: list[str]
    datasets: dict[str, DatasetEntry]
    train_device: str = "auto"
    frames: int | None = None
    size: int | None = None
    imports: list[str] = field(default_factory=list)
    tensorboard: bool = False
    recipe: dict[str, Any] = field(default_factory=dict)
    bench: dict[str, Any] = field(default_factory=dict)
    eval: dict[str, Any] = field(default_factory=dict)
    per_model: dict[str, dict[str, Any]] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    slurm: dict[str, Any] = field(default_factory=dict)
    out: str | None = None
    source: str = ""  # the file, or "preset smoke"
    text: str = ""  # what the sha256 is of
    sha256: str = ""
    sets: list[str] = field(default_factory=list)  # --set overrides applied on top

    def describe(self) -> str:
        """One paragraph: what this study runs (``litevid study plan`` prints it)."""
        ds = ", ".join(self.datasets) or "none"
        clip = (f"{self.frames or 'dataset/model'} frames x {self.size or 'dataset/model'} px")
        parts = [f"study {self.name!r} from {self.source} (sha256 {self.sha256[:12]})",
                 f"{len(self.models)} model(s); datasets: {ds}; benchmark modes: "
                 f"{', '.join(self.modes) or 'none'} on {', '.join(self.devices) or '-'}",
                 f"clips {clip}; training on {self.train_device}"]
        for title, values in (("recipe", self.recipe), ("bench", self.bench),
                              ("eval", self.eval)):
            if values:
                parts.append(f"{title}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
        for name, d in self.datasets.items():
            extra = {k: getattr(d, k) for k in ("num_clips", "eval_num_clips", "eval_split")
                     if getattr(d, k) is not None}
            if extra:
                parts.append(f"{name}: " + ", ".join(f"{k}={v}" for k, v in extra.items()))
        if self.sets:
            parts.append("--set " + " ".join(self.sets))
        return "\n".join(parts)


def _err(where: str, entry: str, problem: str) -> ValueError:
    return ValueError(f"{where}: {entry}: {problem}")


def _parse_value(text: str) -> Any:
    """A ``--set`` value as TOML (``3``, ``1e-4``, ``true``, ``["a", "b"]``), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_sets(data: dict[str, Any], sets: list[str], where: str = "--set") -> dict[str, Any]:
    """``data`` with each ``SECTION.KEY=VALUE`` (dotted, any depth) of ``sets`` applied."""
    data = copy.deepcopy(data)
    for item in sets:
        path, eq, value = item.partition("=")
        keys = [k.strip() for k in path.split(".")]
        if not eq or len(keys) < 2 or not all(keys):
            raise ValueError(f"{where} {item!r}: expected SECTION.KEY=VALUE, e.g. "
                             "recipe.epochs=5 or datasets.ssv2.root=/data/ssv2")
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ValueError(f"{where} {item!r}: {k} is not a table")
        node[keys[-1]] = _parse_value(value.strip())
    return data


def read_study(path: str | Path | None = None, *, preset: str | None = None,
               sets: list[str] | None = None, datasets: list[str] | None = None,
               out: str | None = None, check_devices: bool = True) -> StudySpec:
    """Read and check a study from a TOML file or a preset, with ``--set`` overrides.

    Args:
        path: the study file (relative paths inside it are relative to its folder).
        preset: a name in ``PRESETS`` (instead of, or under, ``path``).
        sets: ``SECTION.KEY=VALUE`` overrides, applied last.
        datasets: dataset names to add (``--datasets``) where the file does not have them.
        out: the study folder (overrides ``[study] out``).
        check_devices: refuse a benchmark or training device this machine does not have (a
            SLURM study is checked where it runs instead).

    Raises:
        ValueError: one line naming the file (or preset) and the entry at fault.
        FileNotFoundError: the study file does not exist.
    """
    from ..utils.hashing import text_sha256

    sets, datasets = list(sets or []), list(datasets or [])
    if path is None and preset is None and not sets and not datasets:
        raise ValueError("give a study file (litevid study plan STUDY.toml), --preset "
                         f"{' | '.join(PRESETS)} or flags")
    base = Path.cwd()
    data: dict[str, Any] = {}
    texts = []
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"--preset {preset!r}: unknown preset (available: "
                             f"{', '.join(PRESETS)})")
        data = tomllib.loads(PRESETS[preset])
        texts.append(PRESETS[preset])
    where = f"preset {preset}" if preset else "the command line"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: study file does not exist")
        text = path.read_text(encoding="utf-8")
        try:
            own = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not a valid TOML file ({exc})") from None
        data = _merge(data, own)
        texts.append(text)
        base = path.resolve().parent
        where = str(path)
    for name in datasets:
        data.setdefault("datasets", {}).setdefault(name, {})
    if datasets:
        texts.append("--datasets " + ",".join(datasets))
    data = apply_sets(data, sets)
    texts.extend(sets)
    spec = _build(data, where, base, check_devices=check_devices)
    spec.source = where
    spec.text = "\n".join(texts)
    spec.sha256 = text_sha256(spec.text)
    spec.sets = sets
    if out is not None:
        spec.out = out
    return spec


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _known(where: str, section: str, values: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise _err(where, f"[{section}]", "must be a table")
    unknown = sorted(set(values) - set(keys))
    if unknown:
        raise _err(where, f"[{section}] {unknown[0]}", f"unknown key (known: {', '.join(keys)})")
    return values


def _string_list(where: str, entry: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _err(where, entry, f"must be a list of names, got {value!r}")
    return value


def _build(data: dict[str, Any], where: str, base: Path, *, check_devices: bool) -> StudySpec:
    from ..utils.registry import import_modules

    for section in data:
        if section not in _SECTIONS:
            raise _err(where, f"[{section}]", f"unknown section (known: {', '.join(_SECTIONS)})")
    study = _known(where, "study", data.get("study", {}), _STUDY_KEYS)
    imports = _string_list(where, "[study] import", study.get("import", []))
    try:
        import_modules(imports)
    except ValueError as exc:
        raise _err(where, "[study] import", str(exc)) from None
    name = study.get("name") or (Path(where).stem if where.endswith(".toml") else "study")
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise _err(where, "[study] name", f"{name!r}: use letters, digits, - and _")
    spec = StudySpec(name=name, models=_models(where, study.get("models", "all")),
                     modes=_modes(where, study.get("modes", [])),
                     devices=_string_list(where, "[study] devices", study.get("devices", [])),
                     datasets={}, imports=imports,
                     train_device=str(study.get("train_device", "auto")),
                     out=study.get("out"), tensorboard=bool(study.get("tensorboard", False)))
    for key in ("frames", "size"):
        value = study.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 1):
            raise _err(where, f"[study] {key}", f"must be a whole number >= 1, got {value!r}")
        setattr(spec, key, value)
    if spec.out is not None:
        spec.out = str((base / spec.out).resolve())
    if spec.modes and not spec.devices:
        raise _err(where, "[study] devices", "benchmark modes are given but no device")
    spec.recipe = _recipe(where, "recipe", data.get("recipe", {}))
    spec.bench = _bench(where, data.get("bench", {}))
    spec.eval = dict(_known(where, "eval", data.get("eval", {}), _EVAL_KEYS))
    _check_eval(where, spec.eval)
    per_model = data.get("per_model", {})
    if not isinstance(per_model, dict):
        raise _err(where, "[per_model]", "must be a table of model tables")
    for model, values in per_model.items():
        if model not in spec.models:
            raise _err(where, f"[per_model.{model}]", "not one of the study's models")
        values = dict(values)
        if "pretrained" in values:
            values["pretrained"] = _path(where, f"[per_model.{model}] pretrained",
                                         values["pretrained"], base, kind="file")
        spec.per_model[model] = _recipe(where, f"per_model.{model}", values)
    datasets = data.get("datasets", {})
    if not isinstance(datasets, dict):
        raise _err(where, "[datasets]", "must be tables [datasets.NAME]")
    for ds_name, values in datasets.items():
        spec.datasets[ds_name] = _dataset(where, ds_name, values, base)
    spec.run = dict(_known(where, "run", data.get("run", {}), RUN_KEYS))
    spec.slurm = dict(_known(where, "slurm", data.get("slurm", {}), SLURM_KEYS))
    if not spec.datasets and not spec.modes:
        raise _err(where, "[study]", "nothing to run: no [datasets.NAME] and no benchmark modes")
    check_devices_of(spec, where, available=check_devices)
    return spec


def _models(where: str, value: Any) -> list[str]:
    from ..models import list_models, model_spec

    if value == "all":
        return list_models()
    names = _string_list(where, "[study] models", value)
    if not names:
        raise _err(where, "[study] models", "empty (give names, or \"all\")")
    for n in names:
        try:
            model_spec(n)
        except ValueError as exc:
            raise _err(where, "[study] models", str(exc)) from None
    if len(set(names)) != len(names):
        raise _err(where, "[study] models", "a model is listed twice")
    return names


def _modes(where: str, value: Any) -> list[str]:
    from ..bench.modes import MODES

    modes = _string_list(where, "[study] modes", value)
    for m in modes:
        if m not in MODES:
            raise _err(where, "[study] modes", f"unknown mode {m!r} (choose from "
                       f"{', '.join(MODES)})")
    return modes


def _recipe(where: str, section: str, values: Any) -> dict[str, Any]:
    """Train settings of a section, checked against ``TrainConfig``'s fields and bounds."""
    from ..train.config import TrainConfig

    fields = {f.name for f in dataclasses.fields(TrainConfig)} - set(_STUDY_OWNED_TRAIN)
    if section.startswith("per_model"):
        fields |= {"pretrained"}
    values = dict(_known(where, section, values, tuple(sorted(fields))))
    try:
        TrainConfig(**values)
    except (TypeError, ValueError) as exc:
        raise _err(where, f"[{section}]", str(exc)) from None
    return values


def _bench(where: str, values: Any) -> dict[str, Any]:
    from ..bench.config import BenchConfig

    fields = tuple(sorted({f.name for f in dataclasses.fields(BenchConfig)}
                          - set(_STUDY_OWNED_BENCH)))
    values = dict(_known(where, "bench", values, fields))
    try:
        BenchConfig(**values)
    except (TypeError, ValueError) as exc:
        raise _err(where, "[bench]", str(exc)) from None
    return values


def _check_eval(where: str, values: dict[str, Any]) -> None:
    for key in ("batch_size", "workers"):
        v = values.get(key)
        if v is not None and (not isinstance(v, int) or v < (1 if key == "batch_size" else 0)):
            raise _err(where, f"[eval] {key}", f"must be a whole number, got {v!r}")
    if values.get("on_error", "skip") not in ("skip", "raise"):
        raise _err(where, "[eval] on_error", "choose skip or raise")


def _path(where: str, entry: str, value: Any, base: Path, *, kind: str) -> str:
    if not isinstance(value, str) or not value:
        raise _err(where, entry, f"must be a path, got {value!r}")
    p = (base / Path(value).expanduser()).resolve()
    if kind == "dir" and not p.is_dir():
        raise _err(where, entry, f"{p}: folder does not exist")
    if kind == "file" and not p.is_file():
        raise _err(where, entry, f"{p}: file does not exist")
    if kind == "any" and not p.exists():
        raise _err(where, entry, f"{p}: does not exist")
    return str(p)


def _dataset(where: str, name: str, values: Any, base: Path) -> DatasetEntry:
    from ..data import dataset_spec

    section = f"datasets.{name}"
    try:
        dspec = dataset_spec(name)
    except ValueError as exc:
        raise _err(where, f"[{section}]", str(exc)) from None
    values = dict(_known(where, section, values, _DATASET_KEYS))
    entry = DatasetEntry(name=name)
    generated = dspec.builder is not None
    for key in _DATASET_FILES:
        if values.get(key) is not None:
            if generated:
                raise _err(where, f"[{section}] {key}", f"{name} is generated, it reads no files")
            kind = ("dir" if key in ("root", "val_root") else
                    "any" if key == "labels" else "file")  # EK100: a folder of class CSVs
            setattr(entry, key, _path(where, f"[{section}] {key}", values[key], base, kind=kind))
    if not generated:
        for key in ("annotations", "val_annotations"):
            if getattr(entry, key) is None:
                raise _err(where, f"[{section}] {key}", "missing: training needs the training "
                           "and the validation split's annotation files")
        for key in ("num_clips", "eval_num_clips"):
            if values.get(key) is not None:
                raise _err(where, f"[{section}] {key}", "only for a generated dataset")
    for key in ("num_clips", "eval_num_clips"):
        v = values.get(key)
        if v is not None and (not isinstance(v, int) or v < 1):
            raise _err(where, f"[{section}] {key}", f"must be a whole number >= 1, got {v!r}")
        setattr(entry, key, v)
    split = values.get("eval_split")
    if split is not None and not isinstance(split, str):
        raise _err(where, f"[{section}] eval_split", f"must be a split name, got {split!r}")
    entry.eval_split = split or ("test" if generated else "val")
    entry.recipe = _recipe(where, f"{section}.recipe", values.get("recipe", {}))
    return entry


def check_devices_of(spec: StudySpec, where: str | None = None, *,
                     available: bool = True) -> None:
    """Each device is a known kind; with ``available``, this machine has it (a study run here;
    a SLURM study's devices are checked on its nodes)."""
    where = where or spec.source
    from ..devices import resolve_device

    for entry, devices in (("[study] devices", spec.devices),
                           ("[study] train_device", [spec.train_device])):
        for dev in devices:
            kind, _, index = dev.partition(":")
            if kind not in ("auto", "cpu", "cuda", "mps") or (index and not index.isdigit()) \
                    or (kind == "auto" and entry.endswith("devices")):
                raise _err(where, entry, f"{dev!r}: choose cpu, cuda, cuda:N or mps")
            if available:
                try:
                    resolve_device(dev)
                except (ValueError, RuntimeError) as exc:
                    raise _err(where, entry, f"{dev!r} is not available here ({exc})") from None


def file_digest(path: str | None) -> str | None:
    """sha256 of a file the study reads (annotations, labels, weights); ``None`` for a folder."""
    if path is None or not Path(path).is_file():
        return None
    from ..utils.hashing import file_sha256

    return file_sha256(path)


def config_hash(obj: Any) -> str:
    """The 64-hex sha256 of ``obj`` as canonical JSON."""
    import json

    from ..utils.hashing import text_sha256

    return text_sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str))
