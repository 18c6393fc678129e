"""The benchmark's run configuration: one flat, typed dataclass whose defaults work.

Each field carries its help text and default; ``litevid bench``'s flags are generated from the
fields (``utils.config``). ``None`` / ``"auto"`` mean "the default for the device", filled in by
``BenchConfig.resolved``. The resolved configuration is stored with every row.

Defaults:

- CUDA / MPS: the study's protocol (section 3.2): all three modes, mixed precision on CUDA (bf16
  autocast where the GPU runs bf16 natively, else fp16; the device backend chooses, in the
  process that measures, and each row records the choice), batch 8 / 32 / 1, 10 warm-up runs,
  exactly 100 timed runs.
- CPU: ``single`` mode only, fp32, 2 warm-up runs and adaptive iterations (at least 10 samples
  and 10 s, at most 100), so all 13 models at 16x224x224 finish in about 6 minutes on 2 cores.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..utils.config import MAX_SEED, option, validate_fields
from .modes import MODE_TABLE, MODES, PAPER_BATCH, PRECISIONS

__all__ = ["BenchConfig", "Job", "MODES", "PAPER_BATCH", "PRECISIONS"]


@dataclass
class BenchConfig:
    """Settings of one ``litevid bench`` run; each field is also a command-line flag."""

    models: str = option("all", help="comma-separated registry names or shell patterns "
                         "(vtn_*), or 'all'")
    modes: str = option("auto", help=f"comma-separated subset of {','.join(MODES)} "
                        "(default: all three on a GPU, 'single' on CPU)")
    runtime: str = option("eager", help="comma-separated runtimes executing the step: eager "
                          "(PyTorch), onnxruntime, executorch, torchscript-lite, coreml (macOS). "
                          "Non-eager runtimes export the model first (parity-checked, not timed) "
                          "and time its artefact with the same harness; inference modes, fp32, "
                          "CPU. Needs the export extra")
    device: str = option("auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps")
    frames: int | None = option(None, ge=1, help="clip length T (default: each model's spec, "
                                "16)")
    size: int | None = option(None, ge=1, help="frame size H=W (default: each model's spec, 224)")
    batch_size: int | None = option(None, ge=1, help="one batch size for every mode (default: "
                                    "the paper's 8 / 32 / 1)")
    warmup: int | None = option(None, ge=0, help="untimed runs first (default 10 on a GPU, 2 on "
                                "CPU)")
    iters: int | None = option(None, ge=1, help="minimum timed runs (default 100 on a GPU, 10 on "
                               "CPU)")
    max_iters: int | None = option(None, ge=1, help="maximum timed runs (default max(--iters, "
                                   "100))")
    min_seconds: float | None = option(
        None, ge=0, help="minimum duration of the timed loop (default 0 on a GPU: exactly "
        "--iters runs, the paper's protocol; 10 s on CPU: all 13 models in about 6 minutes on 2 "
        "cores, with enough samples for stable percentiles)")
    memory_iters: int | None = option(None, ge=1, help="steps in the separate memory pass "
                                      "(default 3 on a GPU, 1 on CPU)")
    precision: str = option("auto", choices=("auto", *PRECISIONS),
                            help=f"{' | '.join(PRECISIONS)} autocast (default auto: mixed "
                            "precision on CUDA as in the study, bf16 where the GPU runs it "
                            "natively (compute capability >= 8.0), else fp16 with loss scaling; "
                            "fp32 elsewhere)")
    channels_last: bool = option(False, help="channels_last_3d memory format for model and input")
    compile: bool = option(False, help="torch.compile the model (compiled before warm-up, outside "
                           "the timed region, in the same inference/autocast context; its time "
                           "is recorded)")
    optimize: bool = option(False, help="time the deployment-speed form (litevid.optimize: "
                            "BatchNorm folded for inference, the measured memory-layout rule, "
                            "one-pass temporal shift) instead of the plain model the study "
                            "measured; its rows are marked '+opt' and never ranked with plain "
                            "ones")
    profile: bool = option(False, help="after timing, profile a few more steps with "
                           "torch.profiler and store the top operators by self time with the "
                           "row (litevid results profile shows them); eager runtime only")
    fit_batch: bool = option(False, help="if the batch does not fit in memory, measure the "
                             "largest batch that does (the row records both batches); without "
                             "it an OOM is an 'oom' row")
    in_process: bool = option(False, help="run every model in this process (default: one "
                              "subprocess per model and mode)")
    threads: int | None = option(None, ge=1, help="torch intra-op threads (default: torch's "
                                 "default)")
    import_modules: str = option("", flag="--import", help="comma-separated modules to import "
                                 "first, in workers too (e.g. to register your own models)")
    seed: int = option(0, ge=0, le=MAX_SEED, help="seed of weights and synthetic inputs")
    db: str = option("litevid-results.db", path="db", help="SQLite results store")
    json: str | None = option(None, path="file", help="also write this run's rows to this JSON "
                              "file")

    def __post_init__(self) -> None:
        validate_fields(self)  # the fields' bounds (ge=...), as the flags check them

    def mode_list(self) -> list[str]:
        modes = [m.strip() for m in self.modes.split(",") if m.strip()]
        bad = [m for m in modes if m not in MODES]
        if bad or not modes:
            raise ValueError(f"unknown mode(s) {bad or self.modes!r}; choose from {', '.join(MODES)}")
        return modes

    def runtime_list(self) -> list[str]:
        runtimes = [r.strip() for r in self.runtime.split(",") if r.strip()]
        if not runtimes:
            raise ValueError("--runtime: give at least one runtime (eager, onnxruntime, ...)")
        return runtimes

    def batch_for(self, mode: str) -> int:
        return self.batch_size if self.batch_size is not None else PAPER_BATCH[mode]

    def resolved(self, device_type: str) -> "BenchConfig":
        """A copy with every ``auto``/``None`` default filled in for ``device_type``."""
        accel = device_type != "cpu"
        modes = self.modes
        if modes == "auto":
            modes = ",".join(m for m, spec in MODE_TABLE.items() if accel or spec.cpu_default)
        precision = self.precision  # ``auto`` is chosen per device by the measuring process
        if precision not in ("auto", *PRECISIONS):
            raise ValueError(f"unknown precision {precision!r}; choose auto or "
                             f"{', '.join(PRECISIONS)}")
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
        cfg.mode_list()  # each field's own range was checked when it was built (validate_fields)
        if cfg.max_iters < cfg.iters:
            raise ValueError(f"need 1 <= --iters ({cfg.iters}) <= --max-iters ({cfg.max_iters})")
        exported = [r for r in cfg.runtime_list() if r != "eager"]
        if exported:
            from ..export.formats import MissingDependency, runtime_format

            for r in exported:
                try:
                    runtime_format(r).check_available()  # unknown runtime: close matches
                except MissingDependency as exc:
                    raise ValueError(f"--runtime {r}: {exc}") from None
            training = [m for m in cfg.mode_list() if MODE_TABLE[m].training]
            if training or device_type != "cpu" or precision not in ("auto", "fp32") \
                    or cfg.compile \
                    or cfg.channels_last or cfg.fit_batch or cfg.optimize or cfg.profile:
                raise ValueError(f"--runtime {','.join(exported)} measures exported artefacts: "
                                 "inference modes (single, batch) on CPU in fp32, without "
                                 "--compile, --channels-last, --fit-batch, --optimize or "
                                 "--profile")
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class Job:
    """One (model, mode) measurement: what to run and the resolved run configuration."""

    model: str
    mode: str
    batch_size: int
    device: str  # resolved and indexed: cpu, cuda:0, mps
    config: BenchConfig  # resolved for the device (``BenchConfig.resolved``)
    runtime: str = "eager"  # what executes the step (eager PyTorch, or an exported artefact's)

    @property
    def isolated(self) -> bool:
        """True when the job runs in its own worker process."""
        return not self.config.in_process

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Job":
        return cls(**{**values, "config": BenchConfig(**values["config"])})
