"""Device backends: one small interface per device type (cpu, cuda, mps).

``get_backend("auto" | "cpu" | "cuda" | "cuda:1" | "mps")`` resolves the name to an indexed
device (``cuda`` -> ``cuda:<current device>``, or ``cuda:<LOCAL_RANK>`` in a torchrun process)
and returns its ``DeviceBackend``: where tensors go, set current, synchronise, a timer, a memory
tracker, the precision / autocast / grad-scaler choice, out-of-memory recognition, RNG state and
the environment record. ``litevid bench``, ``train``, ``eval``, ``predict`` and ``export`` use it;
code that depends on the device type lives in this package and nowhere else.

With ``LITEVID_FAKE_CUDA`` set, ``cuda`` devices are ``fake_cuda.FakeCudaBackend``: the real CUDA
orchestration on CPU tensors, every CUDA call recorded (tests, ``gpu_protocol.py --dry-run``).
"""

from __future__ import annotations

import os

from ..utils.registry import lookup
from .base import (AMP_DTYPES, PRECISIONS, DeviceBackend, MemoryResult, PerfCounterTimer,
                   PrecisionChoice, Timer, check_precision, host_oom)
from .cpu import CpuBackend
from .cuda import CudaBackend
from .fake_cuda import FAKE_CUDA_ENV
from .mps import MpsBackend

__all__ = ["AMP_DTYPES", "BACKENDS", "PRECISIONS", "CpuBackend", "CudaBackend", "DeviceBackend",
           "MemoryResult", "MpsBackend", "PerfCounterTimer", "PrecisionChoice", "Timer",
           "backend_class", "check_precision", "get_backend", "host_oom", "resolve_device"]

# Device types in the order ``auto`` tries them.
BACKENDS: dict[str, type[DeviceBackend]] = {"cuda": CudaBackend, "mps": MpsBackend,
                                            "cpu": CpuBackend}


def backend_class(device_type: str) -> type[DeviceBackend]:
    """The backend class of ``device_type`` (the fake CUDA one under ``LITEVID_FAKE_CUDA``)."""
    if device_type == "cuda" and os.environ.get(FAKE_CUDA_ENV) is not None:
        from .fake_cuda import FakeCudaBackend

        return FakeCudaBackend
    return lookup(BACKENDS, device_type, "device type")


def resolve_device(spec: str = "auto", *, local_rank: int | None = None,
                   world_size: int = 1) -> str:
    """The indexed device name of ``spec`` on this machine.

    Args:
        spec: ``auto`` (cuda, then mps, then cpu), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        local_rank: the process's local rank under torchrun (``cuda`` -> ``cuda:<local_rank %
            devices>``); ``None`` for a single process (``cuda`` -> the current device).
        world_size: processes in the job (MPS is not chosen by ``auto`` for several).
    """
    spec = spec.strip()
    if spec == "auto":
        for kind in BACKENDS:
            cls = backend_class(kind)
            if (kind != "mps" or world_size == 1) and cls.is_available():
                return cls.resolve(kind, local_rank)
    kind = spec.split(":")[0]
    if kind not in BACKENDS:
        raise ValueError(f"--device {spec!r}: choose auto, cpu, cuda, cuda:N or mps")
    return backend_class(kind).resolve(spec, local_rank)


def get_backend(spec: str = "auto", *, local_rank: int | None = None,
                world_size: int = 1) -> DeviceBackend:
    """The backend of ``spec`` resolved on this machine (see ``resolve_device``)."""
    name = resolve_device(spec, local_rank=local_rank, world_size=world_size)
    return backend_class(name.split(":")[0])(name)
