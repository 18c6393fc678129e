"""The Apple-silicon GPU backend (``mps``): synchronised host clock, driver memory, fp32."""

from __future__ import annotations

from typing import Callable

from .base import DeviceBackend, MemoryResult
from .host import cpu_model

__all__ = ["MpsBackend"]


class MpsBackend(DeviceBackend):
    """Metal Performance Shaders. There are no timing events: a step is timed by the host clock
    between two device synchronisations. Memory is what the driver holds after the pass (MPS
    keeps no peak statistics), said so in the row's memory kind."""

    type = "mps"

    @classmethod
    def is_available(cls) -> bool:
        import torch

        mps = getattr(torch.backends, "mps", None)
        return mps is not None and mps.is_available()

    @classmethod
    def resolve(cls, spec: str, local_rank: int | None = None) -> str:
        if not cls.is_available():
            raise ValueError(f"--device {spec}: MPS is not available on this machine")
        if spec not in ("mps", "mps:0"):
            raise ValueError(f"--device {spec}: MPS has one device (mps)")
        return "mps"

    def synchronize(self) -> None:
        import torch

        torch.mps.synchronize()

    def free(self) -> None:
        import torch

        super().free()
        torch.mps.empty_cache()

    def measure_memory(self, run: Callable[[], None], *, isolated: bool = True) -> MemoryResult:
        import torch

        run()
        self.synchronize()
        return MemoryResult(int(torch.mps.driver_allocated_memory()),
                            "mps: driver allocated after the pass (not a peak)",
                            {"current_allocated_bytes": int(torch.mps.current_allocated_memory())})

    def rng_state(self):
        import torch

        return torch.mps.get_rng_state()

    def set_rng_state(self, state) -> None:
        import torch

        if state is not None:
            torch.mps.set_rng_state(state)

    def device_name(self) -> str:
        return f"Apple MPS ({cpu_model()})"
