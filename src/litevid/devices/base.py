"""The device interface every backend implements, and what it returns.

A ``DeviceBackend`` is one resolved device (``cpu``, ``cuda:0``, ``mps``) and everything the
rest of litevid needs to know or do that depends on its kind: where tensors go, making it
current, synchronising, a timer, a memory tracker, the precision / autocast / grad-scaler
choice, out-of-memory recognition, its RNG state, the data-loader and process-group settings and
its environment record. ``bench``, ``train``, ``predict`` and ``export`` call these methods and
never branch on the device type themselves.
"""

from __future__ import annotations

import contextlib
import gc
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, ContextManager, Protocol

if TYPE_CHECKING:
    import torch

__all__ = ["AMP_DTYPES", "PRECISIONS", "DeviceBackend", "MemoryResult", "PerfCounterTimer",
           "PrecisionChoice", "Timer", "check_precision", "host_oom", "needs_grad_scaling"]

PRECISIONS = ("fp32", "amp-fp16", "amp-bf16")
AMP_DTYPES = {"amp-fp16": "float16", "amp-bf16": "bfloat16"}

Step = Callable[[], Any]


class Timer(Protocol):
    """Times one call of ``step`` and returns seconds."""

    kind: str

    def time_step(self, step: Step) -> float: ...

    def synchronize(self) -> None: ...


class PerfCounterTimer:
    """Host clock around the step; ``sync`` (a device synchronisation) runs before and after it
    for asynchronous devices without events (MPS), so the sample holds the device's work."""

    def __init__(self, sync: Callable[[], None] | None = None) -> None:
        self._sync = sync
        self.kind = "perf_counter" if sync is None else "synchronize+perf_counter"

    def time_step(self, step: Step) -> float:
        sync = self._sync
        if sync is not None:
            sync()
        t0 = time.perf_counter()
        step()
        if sync is not None:
            sync()
        return time.perf_counter() - t0

    def synchronize(self) -> None:
        if self._sync is not None:
            self._sync()


@dataclass
class MemoryResult:
    """Peak memory of a pass: ``peak_bytes`` of the kind ``kind`` says; ``detail`` has the rest."""

    peak_bytes: int | None
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


def needs_grad_scaling(precision: str) -> bool:
    """fp16 autocast needs loss scaling (its exponent range underflows small gradients)."""
    return precision == "amp-fp16"


@dataclass(frozen=True)
class PrecisionChoice:
    """A resolved precision and why it was chosen (stored with rows and training logs)."""

    precision: str  # fp32 | amp-fp16 | amp-bf16
    reason: str

    @property
    def grad_scaling(self) -> bool:
        return needs_grad_scaling(self.precision)


def host_oom(exc: BaseException) -> bool:
    """Out of memory as torch or the host allocator reports it (any device)."""
    import torch

    oom_types = tuple(t for t in (getattr(torch, "OutOfMemoryError", None),
                                  getattr(torch.cuda, "OutOfMemoryError", None)) if t is not None)
    if isinstance(exc, MemoryError) or (oom_types and isinstance(exc, oom_types)):
        return True
    if isinstance(exc, RuntimeError):
        msg = str(exc).lower()
        return "out of memory" in msg or "can't allocate memory" in msg
    return False


class DeviceBackend:
    """One resolved device. Subclasses set ``type`` and override what differs.

    Attributes:
        name: the resolved device as rows record it (``cpu``, ``cuda:0``, ``mps``).
        index: the device index (0 where a device type has one device).
    """

    type: ClassVar[str] = ""
    dist_backend: ClassVar[str] = "gloo"  # torch.distributed backend of DDP on this device
    pin_memory: ClassVar[bool] = False  # data loaders pin host memory for this device
    profile_clock: ClassVar[str] = "cpu"  # what --profile ranks operators by: cpu or device
    amp_device_type: ClassVar[str] = ""  # torch.autocast's device_type (default: ``type``)
    synchronous: ClassVar[bool] = False  # work is done when the call returns (the CPU)
    AUTO_PRECISION: ClassVar[str] = "fp32"  # what ``choose_precision("auto")`` picks, in words

    def __init__(self, name: str) -> None:
        self.name = name
        _, _, idx = name.partition(":")
        self.index = int(idx) if idx else 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # ---- resolving ---------------------------------------------------------------------------

    @classmethod
    def is_available(cls) -> bool:
        return True

    @classmethod
    def resolve(cls, spec: str, local_rank: int | None = None) -> str:
        """The indexed name of ``spec`` (``cpu``, ``cuda``, ``cuda:1``...) on this machine;
        ``local_rank`` picks the device of a torchrun process. A ``ValueError`` when absent."""
        if spec != cls.type:
            raise ValueError(f"--device {spec}: {cls.type} has no device index")
        return spec

    # ---- where tensors live, running ---------------------------------------------------------

    @property
    def device(self) -> torch.device:
        """Where tensors and models go."""
        import torch

        return torch.device(self.name)

    def set_current(self) -> None:
        """Make this the current device of the process (events, streams, memory statistics)."""

    def synchronize(self) -> None:
        """Wait for all queued work on this device."""

    def timer(self) -> Timer:
        """The timer of the timed loop (CUDA events on a GPU)."""
        return self.host_timer()

    def host_timer(self) -> PerfCounterTimer:
        """The host clock, with a synchronisation around each sample unless the device is
        synchronous (end-to-end timings whose stages include host work)."""
        return PerfCounterTimer(None if self.synchronous else self.synchronize)

    def free(self) -> None:
        """Release what the last job left (Python garbage, cached device blocks)."""
        gc.collect()

    def configure(self, *, deterministic: bool = False) -> dict[str, Any]:
        """Library settings for this device (cuDNN autotuning); returns what was set."""
        return {}

    # ---- memory -------------------------------------------------------------------------------

    def measure_memory(self, run: Callable[[], None], *, isolated: bool = True) -> MemoryResult:
        """Run ``run`` (a few steps) and return the peak memory it needed."""
        raise NotImplementedError

    # ---- precision ------------------------------------------------------------------------------

    def choose_precision(self, requested: str = "auto") -> PrecisionChoice:
        """``auto`` -> this device's default; explicit precisions are checked and kept."""
        if requested == "auto":
            return PrecisionChoice("fp32", f"auto: fp32 on {self.type}")
        check_precision(requested)
        return PrecisionChoice(requested, "requested")

    def autocast(self, precision: str) -> ContextManager:
        """Autocast for ``amp-*`` precisions, a no-op for ``fp32``."""
        import torch

        check_precision(precision)
        if precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.amp_device_type or self.type,
                              dtype=getattr(torch, AMP_DTYPES[precision]))

    def grad_scaler(self, precision: str, *, always: bool = False) -> Any:
        """A ``GradScaler`` for fp16 autocast, else ``None`` (with ``always``: a disabled one,
        whose state a checkpoint can still hold)."""
        import torch

        scaling = needs_grad_scaling(precision)
        if not scaling and not always:
            return None
        return torch.amp.GradScaler(self.amp_device_type or self.type, enabled=scaling)

    # ---- failures, RNG ----------------------------------------------------------------------------

    def is_oom(self, exc: BaseException) -> bool:
        """True when ``exc`` means the step did not fit in memory."""
        return host_oom(exc)

    def rng_state(self) -> torch.Tensor | None:
        """This device's own generator state (None: the device uses the CPU generator)."""
        return None

    def set_rng_state(self, state: torch.Tensor | None) -> None:
        """Put back a state ``rng_state`` returned."""

    # ---- records --------------------------------------------------------------------------------

    def device_name(self) -> str:
        raise NotImplementedError

    def environment(self) -> dict[str, Any]:
        """The environment record of rows measured here (host facts + this device)."""
        from .host import host_environment

        return {"device_type": self.type, "device": self.name, "device_name": self.device_name(),
                **host_environment()}

    def profiler_activities(self) -> list[Any]:
        """What ``torch.profiler`` records here: the CPU, and CUDA kernels where operators are
        ranked by device time."""
        from torch.profiler import ProfilerActivity

        return [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA]
                                         if self.profile_clock == "device" else [])


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose auto or "
                         f"{', '.join(PRECISIONS)}")
