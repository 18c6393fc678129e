"""The benchmark's run configuration: one flat, typed dataclass whose defaults work.

``litevid bench`` flags override fields; ``None`` / ``"auto"`` mean "the default for the device",
filled in by ``BenchConfig.resolved``. The resolved configuration is stored with every row.

Defaults:

- CUDA / MPS: the study's protocol (section 3.2): all three modes, mixed precision (fp16 autocast)
  on CUDA, batch 8 / 32 / 1, 10 warm-up runs, exactly 100 timed runs.
- CPU: ``single`` mode only, fp32, 2 warm-up runs and adaptive iterations (at least 5 samples
  and 3 s, at most 100), so all 13 models at 16x224x224 finish in about 10 minutes on 2 cores.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["BenchConfig", "MODES", "PAPER_BATCH", "PRECISIONS"]

MODES = ("train", "batch", "single")
PRECISIONS = ("fp32", "amp-fp16", "amp-bf16")
# Batch size per mode in the study (section 3.2): training step B=8, batch-mode B=32, single B=1.
PAPER_BATCH = {"train": 8, "batch": 32, "single": 1}


@dataclass
class BenchConfig:
    """Settings of one ``litevid bench`` run.

    Attributes:
        models: comma-separated registry names, shell patterns (``vtn_*``) or ``all``.
        modes: comma-separated subset of ``train,batch,single``; ``auto`` = all three on an
            accelerator, ``single`` on CPU.
        device: ``auto`` (cuda, then mps, then cpu), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        frames: clip length T; None = each model's spec (16 for the study's models).
        size: frame size H = W; None = each model's spec (224).
        batch_size: one batch size for every mode; None = the paper's (train 8, batch 32, single 1).
        warmup: untimed runs before timing; None = 10 on an accelerator, 2 on CPU.
        iters: minimum timed runs; None = 100 on an accelerator, 10 on CPU.
        max_iters: maximum timed runs; None = max(iters, 100).
        min_seconds: minimum duration of the timed loop; None = 0 on an accelerator (exactly
            ``iters`` runs, the paper's protocol), 10 s on CPU (all 13 models in about 6 minutes
            on 2 cores, with enough samples for stable percentiles).
        memory_iters: steps in the separate memory pass; None = 3 on an accelerator, 1 on CPU.
        precision: ``fp32``, ``amp-fp16`` or ``amp-bf16`` (autocast); ``auto`` = amp-fp16 on CUDA
            (the study used mixed precision), fp32 elsewhere.
        channels_last: convert model and input to ``channels_last_3d``.
        compile: ``torch.compile`` the model; compilation happens before warm-up, outside the
            timed region, in the same inference/autocast context, and its time is recorded.
        fit_batch: when the batch does not fit, search the largest that does and record it (the
            row keeps the requested batch too); without it an OOM is an ``oom`` row.
        in_process: run every (model, mode) in this process instead of its own subprocess.
        threads: ``torch.set_num_threads``; None = torch's default (all cores).
        import_modules: comma-separated modules imported first (in workers too), for example to
            register your own models.
        seed: seed of the synthetic inputs and weights.
        db: SQLite results store.
        json: also write this run's rows to this JSON file.
    """

    models: str = "all"
    modes: str = "auto"
    device: str = "auto"
    frames: int | None = None
    size: int | None = None
    batch_size: int | None = None
    warmup: int | None = None
    iters: int | None = None
    max_iters: int | None = None
    min_seconds: float | None = None
    memory_iters: int | None = None
    precision: str = "auto"
    channels_last: bool = False
    compile: bool = False
    fit_batch: bool = False
    in_process: bool = False
    threads: int | None = None
    import_modules: str = ""
    seed: int = 0
    db: str = "litevid-results.db"
    json: str | None = None

    def mode_list(self) -> list[str]:
        modes = [m.strip() for m in self.modes.split(",") if m.strip()]
        bad = [m for m in modes if m not in MODES]
        if bad or not modes:
            raise ValueError(f"unknown mode(s) {bad or self.modes!r}; choose from {', '.join(MODES)}")
        return modes

    def batch_for(self, mode: str) -> int:
        return self.batch_size if self.batch_size is not None else PAPER_BATCH[mode]

    def resolved(self, device_type: str) -> "BenchConfig":
        """A copy with every ``auto``/``None`` default filled in for ``device_type``."""
        accel = device_type != "cpu"
        modes = self.modes if self.modes != "auto" else (",".join(MODES) if accel else "single")
        precision = self.precision
        if precision == "auto":
            precision = "amp-fp16" if device_type == "cuda" else "fp32"
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
        iters = self.iters if self.iters is not None else (100 if accel else 10)
        cfg = dataclasses.replace(
            self,
            modes=modes,
            precision=precision,
            warmup=self.warmup if self.warmup is not None else (10 if accel else 2),
            iters=iters,
            max_iters=self.max_iters if self.max_iters is not None else max(iters, 100),
            min_seconds=self.min_seconds if self.min_seconds is not None else (0.0 if accel else 10.0),
            memory_iters=self.memory_iters if self.memory_iters is not None else (3 if accel else 1),
        )
        cfg.mode_list()
        for name in ("frames", "size", "batch_size", "threads"):
            value = getattr(cfg, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        if cfg.warmup < 0 or cfg.memory_iters < 0:
            raise ValueError("--warmup and memory iterations must be >= 0")
        if cfg.iters < 1 or cfg.max_iters < cfg.iters:
            raise ValueError(f"need 1 <= --iters ({cfg.iters}) <= --max-iters ({cfg.max_iters})")
        if cfg.min_seconds < 0:
            raise ValueError(f"--min-seconds must be >= 0, got {cfg.min_seconds}")
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
