"""The training recipe as one flat, typed dataclass whose defaults are the study's (section 4.1).

Every field is a ``litevid train`` flag (generated from the field, ``utils.config``). Defaults:

- initialise from the local weights given with ``--pretrained`` (ImageNet-1K; X3D and MoViNet
  from Kinetics-400 for SSV2/EK100; MViT-S from scratch: ``ModelSpec.init`` says which);
- mixed precision on CUDA (bf16 where the GPU supports it, else fp16 with a ``GradScaler``),
  fp32 on CPU;
- up to 35 epochs, **effective batch 32** = per-device batch x accumulation steps x world size
  (the accumulation is computed; a remainder is an error);
- initial learning rate from the model's category (``ModelSpec.lr``, 1e-4 to 3e-4), weight decay
  1e-5, AdamW (the study does not name its optimizer; see the README);
- ``ReduceLROnPlateau``: x0.1 when validation top-1 has not improved for 2 epochs; the run stops
  early once the learning rate has been reduced below ``lr_floor``;
- TSN sparse sampling of the model's 16 frames at 224 px for training, segment centres for
  evaluation, the dataset's augmentation (no flip for SSV2) applied per batch on the device.

With no arguments the run trains a small model on the built-in ``synthetic`` dataset, a few
minutes on a 2-core CPU.

``EvalConfig`` holds the settings of one evaluation (``litevid eval``, ``eval_run``), declared the
same way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..models._weights import DEFAULT_MIN_SHARE
from ..utils.config import MAX_SEED, option, validate_fields

__all__ = ["ON_ERROR", "OPTIMIZERS", "PRECISIONS", "EvalConfig", "TrainConfig",
           "accumulation_steps", "apply_dataset_defaults"]

OPTIMIZERS = ("adamw", "sgd")
PRECISIONS = ("auto", "fp32", "amp-fp16", "amp-bf16")
ON_ERROR = ("skip", "raise")  # what evaluation does with a clip that cannot be read


@dataclass
class TrainConfig:
    """Settings of one training run; each field is also a ``litevid train`` flag."""

    model: str = option("movinet_a0", help="registry name of the model to train")
    dataset: str = option("synthetic", help="registered dataset (synthetic needs no files; k400, "
                          "ssv2, ek100, list read annotation files)")
    annotations: str | None = option(None, help="training split annotation file")
    val_annotations: str | None = option(None, help="validation split annotation file")
    root: str | None = option(None, help="folder the training records' videos/frames are in")
    val_root: str | None = option(None, help="folder of the validation videos (default: --root)")
    labels: str | None = option(None, help="the dataset's class file (see litevid data check "
                                "--help)")
    pretrained: str | None = option(None, help="local checkpoint to initialise from, in a layout "
                                    "the model takes (litevid weights layouts; litevid weights "
                                    "inspect FILE says what it would load; nothing is "
                                    "downloaded)")
    pretrained_min_share: float = option(
        DEFAULT_MIN_SHARE, ge=0, le=1, help="refuse a --pretrained file that fills less than this share of "
        "the model's tensors (another model's weights fill none); 0 loads a partial checkpoint "
        "on purpose")
    frames: int | None = option(None, ge=1, help="clip length T (default: the dataset's, else the "
                                "model's: 16)")
    size: int | None = option(None, ge=1, help="crop size (default: the dataset's, else the "
                              "model's: 224)")
    epochs: int = option(35, ge=1, help="maximum epochs (the study: up to 35)")
    batch_size: int = option(8, ge=1, help="clips per device per forward pass")
    effective_batch: int = option(32, ge=1, help="clips per optimizer step over all devices and "
                                  "accumulation steps (the study: 32)")
    lr: float | None = option(None, gt=0, help="initial learning rate (default: the model's, by "
                              "category: CNN baselines 3e-4, CNN+attention 2e-4, transformers "
                              "1e-4)")
    weight_decay: float = option(1e-5, ge=0, help="weight decay (the study: 1e-5)")
    optimizer: str = option("adamw", choices=OPTIMIZERS, help="adamw (decoupled weight decay) "
                            "or sgd (momentum, nesterov)")
    momentum: float = option(0.9, gt=0, lt=1, help="SGD momentum (Nesterov)")
    plateau_factor: float = option(0.1, gt=0, lt=1, help="learning-rate factor when validation "
                                   "top-1 plateaus")
    plateau_patience: int = option(2, ge=1, help="reduce the learning rate once validation top-1 "
                                   "has not improved for this many epochs")
    lr_floor: float = option(1e-6, ge=0, help="stop early once the learning rate is reduced "
                             "below this (0: never)")
    precision: str = option("auto", choices=PRECISIONS, help="auto = bf16 autocast on a CUDA GPU "
                            "that supports it, else fp16 with loss scaling; fp32 on CPU")
    augment: str = option("batch", choices=("batch", "worker", "off"),
                          help="training augmentation: per batch on the device (batch), per clip "
                          "in the loader workers (worker), or crop/flip only (off)")
    workers: int | None = option(None, ge=0, help="data loader processes per device (0: load in "
                                 "the main process; default: the CPU cores shared among the "
                                 "local devices, at most 8)")
    device: str = option("auto", help="auto (cuda, then mps, then cpu), cpu, cuda, mps; under "
                         "torchrun each process takes its LOCAL_RANK GPU")
    seed: int = option(0, ge=0, le=MAX_SEED, help="seed of weights, sampling and augmentation")
    deterministic: bool = option(False, help="deterministic kernels (slower on a GPU)")
    out: str | None = option(None, path="dir", help="run folder for checkpoints and logs "
                             "(default runs/<model>-<dataset>)")
    checkpoint_every: int = option(0, ge=0, help="also checkpoint every N optimizer steps (0: "
                                   "once per epoch)")
    resume: str | None = option(None, help="continue exactly from this checkpoint")
    force: bool = option(False, help="resume even if the configuration differs from the "
                         "checkpoint's")
    db: str = option("litevid-results.db", path="db", help="SQLite results store for the "
                     "evaluation row")
    tensorboard: bool = option(False, help="also write TensorBoard scalars (pip install "
                               "tensorboard)")
    num_clips: int | None = option(None, ge=1, help="synthetic only: training clips "
                                   "(validation gets a quarter)")
    max_steps: int | None = option(None, ge=1, help="stop after this many optimizer steps in all "
                                   "(smoke runs)")
    log_every: int = option(10, ge=1, help="optimizer steps between JSONL step records")
    import_modules: str = option("", flag="--import", help="comma-separated modules to import "
                                 "first, in every process (e.g. to register your own models)")

    def __post_init__(self) -> None:
        validate_fields(self)  # the fields' bounds (ge=...), as the flags check them

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    # Fields that may change between a run and its resumption without changing its result.
    RESUME_FREE = ("resume", "force", "workers", "db", "tensorboard", "log_every", "out",
                   "checkpoint_every", "epochs", "max_steps", "import_modules")

    def differences(self, other: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """Fields (other than ``RESUME_FREE``) where ``other`` (a saved config) differs."""
        mine = self.to_dict()
        return {k: (other.get(k), v) for k, v in mine.items()
                if k not in self.RESUME_FREE and other.get(k) != v}


KEEP_HEAD_HELP = ("--checkpoint is a published video checkpoint (torchvision, official "
                  "release, Hugging Face; litevid weights inspect names it): use it with its "
                  "own classifier, e.g. Kinetics-400's 400 classes")


@dataclass(kw_only=True)
class EvalConfig:
    """Settings of one evaluation; each field is also a ``litevid eval`` flag (``model`` is its
    positional argument). ``model``, ``checkpoint`` and ``dataset`` have no default."""

    model: str = option(required=True, positional=True, help="registry name the checkpoint was "
                        "trained as")
    checkpoint: str = option(required=True, help="litevid checkpoint (or a state dict)")
    keep_head: bool = option(False, help=KEEP_HEAD_HELP)
    dataset: str = option(required=True, help="registered dataset")
    annotations: str | None = option(None, help="annotation file of the split to evaluate")
    root: str | None = option(None, help="folder of the videos / frame folders")
    labels: str | None = option(None, help="the dataset's class file")
    train_annotations: str | None = option(None, help="EK100: the training file that defines "
                                           "action ids")
    split: str = option("val", help="split name (default val)")
    frames: int | None = option(None, ge=1, help="clip length (default: the checkpoint's)")
    size: int | None = option(None, ge=1, help="crop size (default: the checkpoint's)")
    batch_size: int = option(8, ge=1, help="clips per forward pass")
    workers: int = option(2, ge=0, help="data loader processes (0: the main process; default 2)")
    device: str = option("auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps; "
                         "under torchrun each process takes its LOCAL_RANK GPU")
    precision: str = option("auto", choices=PRECISIONS, help="auto = bf16 autocast on a CUDA "
                            "GPU that supports it, else fp16; fp32 on CPU")
    on_error: str = option("skip", choices=ON_ERROR, help="a clip that cannot be read: leave it "
                           "out of the scores and list it (skip: the exit status is then 1) or "
                           "stop at the first (raise). A clip is never replaced by another")
    num_clips: int | None = option(None, ge=1, help="synthetic only: clips to evaluate")
    out: str | None = option(None, path="dir", help="folder for predictions and confusion "
                             "matrices (default: eval-<dataset> beside the checkpoint)")
    db: str = option("litevid-results.db", path="db", help="results store")

    def __post_init__(self) -> None:
        validate_fields(self)  # required fields, bounds and choices, as the flags check them

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def out_dir(self) -> Path:
        """``out``, or ``eval-<dataset>`` beside the checkpoint."""
        return Path(self.out) if self.out else Path(self.checkpoint).parent / f"eval-{self.dataset}"


def accumulation_steps(effective_batch: int, batch_size: int, world_size: int) -> int:
    """Micro-batches per optimizer step so that batch x steps x world = effective batch.

    A remainder would silently change the recipe's batch, so it is an error naming the numbers.
    """
    if min(effective_batch, batch_size, world_size) < 1:
        raise ValueError(f"batch sizes and world size must be >= 1 (effective {effective_batch}, "
                         f"per device {batch_size}, world {world_size})")
    per_step = batch_size * world_size
    if effective_batch % per_step:
        raise ValueError(
            f"effective batch {effective_batch} is not a multiple of per-device batch "
            f"{batch_size} x {world_size} device(s) = {per_step}; choose --batch-size so that "
            f"it divides {effective_batch // world_size if effective_batch % world_size == 0 else effective_batch}"
            " evenly, or change --effective-batch")
    return effective_batch // per_step


def apply_dataset_defaults(cfg: TrainConfig, explicit: set[str] | None = None
                           ) -> tuple[TrainConfig, dict[str, Any]]:
    """``cfg`` with its dataset's ``train_defaults`` for every field the user did not set.

    Args:
        cfg: the configuration as given.
        explicit: names of the fields set on the command line; ``None`` = the fields whose
            value differs from the dataclass default.

    Returns:
        The resolved configuration and the settings taken from the dataset (to print).
    """
    from ..data import dataset_spec

    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    if explicit is None:
        explicit = {k for k, v in cfg.to_dict().items() if v != defaults[k]}
    overrides = dict(dataset_spec(cfg.dataset).train_defaults)
    unknown = set(overrides) - set(defaults)
    if unknown:
        raise ValueError(f"dataset {cfg.dataset!r}: train_defaults names unknown settings "
                         f"{sorted(unknown)}")
    taken = {k: v for k, v in overrides.items() if k not in explicit}
    return dataclasses.replace(cfg, **taken), taken
