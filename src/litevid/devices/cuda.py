"""The CUDA backend: indexed devices, event timing, allocator + NVML memory, the AMP choice, CUDA
graphs, per-device RNG.

Every call into CUDA goes through three handles, ``cuda_api()`` (``torch.cuda``),
``cudnn_api()`` (``torch.backends.cudnn``) and ``nvml_api()`` (``pynvml``). The fake-CUDA test
layer (``devices.fake_cuda``) replaces exactly these, so the orchestration below runs, and is
tested, on a machine without a GPU.

What the memory pass reports (``measure_memory``):

- ``peak_bytes`` / ``peak reserved``: the most device memory PyTorch's caching allocator held
  during the pass (``max_memory_reserved``). The cache is emptied *before* the peak statistics are
  reset, so blocks left by warm-up, cuDNN autotuning, a fold probe or compilation do not count.
- ``peak_allocated_bytes``: the most memory live tensors used (``max_memory_allocated``); the rest
  of ``reserved`` is the allocator's fragmentation and cache.
- ``nvml_process_bytes``: the device memory NVML attributes to this process after the pass:
  reserved memory plus the CUDA context and library workspaces (cuBLAS, cuDNN), the number
  ``nvidia-smi`` shows and the closest to the study's VRAM figures. ``nvml_method`` says how it
  was found; ``nvml_error`` why it is missing.
- ``host_peak_rss_bytes``: the host process's peak resident memory during the pass.
"""

from __future__ import annotations

import gc
import os
from typing import Any, Callable

from .base import DeviceBackend, MemoryResult, PrecisionChoice, Timer, check_precision, host_oom
from .host import current_rss_bytes, peak_rss_bytes, reset_rss_peak

__all__ = ["CUDA_OOM_MARKERS", "CudaBackend", "CudaEventTimer", "CudaGraphReplay"]

# Errors of CUDA libraries that mean "no memory left" although they are not torch's OOM error:
# cuBLAS cannot create its handle or workspace, cuDNN cannot allocate its workspace.
CUDA_OOM_MARKERS = ("CUBLAS_STATUS_ALLOC_FAILED", "CUDNN_STATUS_ALLOC_FAILED",
                    "CUDNN_STATUS_NOT_ENOUGH_WORKSPACE")
NATIVE_BF16_MAJOR = 8  # Ampere (compute capability 8.0) and later run bf16 in hardware


class CudaEventTimer:
    """CUDA events recorded on the current stream around the step; the end event is waited for
    before ``elapsed_time``, so a sample is the device time of the whole step, launch gaps
    included, not the time to enqueue it."""

    kind = "cuda_event"

    def __init__(self, cuda: Any, index: int) -> None:
        self._cuda, self._index = cuda, index
        self._start = cuda.Event(enable_timing=True)
        self._end = cuda.Event(enable_timing=True)

    def time_step(self, step: Callable[[], Any]) -> float:
        stream = self._cuda.current_stream(self._index)
        self._start.record(stream)
        step()
        self._end.record(stream)
        self._end.synchronize()
        return self._start.elapsed_time(self._end) / 1e3  # elapsed_time is in ms

    def synchronize(self) -> None:
        self._cuda.synchronize(self._index)


class CudaGraphReplay:
    """Replays one captured CUDA graph per input shape (inference).

    The first call with a shape warms up on a side stream, then captures ``fn`` reading a static
    input buffer; later calls copy the input into that buffer and replay. The buffer is an
    ordinary tensor made outside ``inference_mode``, so inputs made inside or outside it can be
    copied in (an inference tensor as buffer refuses in-place writes outside the mode). Outputs
    are cloned, so a caller can keep them across calls.
    """

    def __init__(self, cuda: Any, fn: Callable[[Any], Any], warmup: int = 3) -> None:
        self.cuda, self.fn, self.warmup = cuda, fn, warmup
        self.graphs: dict[tuple, tuple[Any, Any, Any]] = {}

    def _capture(self, x: Any) -> tuple[Any, Any, Any]:
        import torch

        cuda = self.cuda
        with torch.inference_mode(False), torch.no_grad():
            static_x = torch.empty_like(x)
            static_x.copy_(x)
            stream = cuda.Stream()
            stream.wait_stream(cuda.current_stream())
            with cuda.stream(stream):
                for _ in range(self.warmup):
                    self.fn(static_x)
            cuda.current_stream().wait_stream(stream)
            graph = cuda.CUDAGraph()
            with cuda.graph(graph):
                static_out = self.fn(static_x)
        return graph, static_x, static_out

    def __call__(self, x: Any) -> Any:
        key = (tuple(x.shape), x.dtype, x.device, x.stride())
        if key not in self.graphs:
            self.graphs[key] = self._capture(x)
        graph, static_x, static_out = self.graphs[key]
        static_x.copy_(x)
        graph.replay()
        if isinstance(static_out, dict):
            return {k: v.clone() for k, v in static_out.items()}
        return static_out.clone()


def _norm_uuid(u: Any) -> str:
    text = u.decode() if isinstance(u, bytes) else str(u)
    text = text.strip().lower()
    for prefix in ("gpu-", "mig-"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text


class CudaBackend(DeviceBackend):
    """One CUDA device, always with its index (``cuda:N``)."""

    type = "cuda"
    dist_backend = "nccl"
    pin_memory = True
    profile_clock = "device"
    AUTO_PRECISION = ("bf16 autocast where the GPU runs bf16 natively, compute capability >= 8.0; "
                      "else fp16 autocast with loss scaling")

    # ---- the libraries driven (the fake-CUDA layer replaces these) -------------------------

    @classmethod
    def cuda_api(cls) -> Any:
        import torch

        return torch.cuda

    @classmethod
    def cudnn_api(cls) -> Any:
        import torch

        return torch.backends.cudnn

    @classmethod
    def nvml_api(cls) -> Any:
        """``pynvml`` (package nvidia-ml-py); ``ImportError`` when it is not installed."""
        import pynvml

        return pynvml

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.cuda = self.cuda_api()

    # ---- resolving, running --------------------------------------------------------------------

    @classmethod
    def is_available(cls) -> bool:
        return bool(cls.cuda_api().is_available())

    @classmethod
    def resolve(cls, spec: str, local_rank: int | None = None) -> str:
        """``cuda`` -> ``cuda:<current device>`` (``cuda:<local_rank % count>`` in a torchrun
        process); ``cuda:N`` is checked against the visible devices. Resolving creates no CUDA
        context: before CUDA is initialised the current device is 0."""
        cuda = cls.cuda_api()
        if not cuda.is_available():
            raise ValueError(f"--device {spec}: CUDA is not available in this torch build/machine")
        count = cuda.device_count()
        _, sep, idx = spec.partition(":")
        if not sep:
            if local_rank is not None:
                index = local_rank % count
            else:
                index = cuda.current_device() if cuda.is_initialized() else 0
        elif idx.isdigit() and int(idx) < count:
            index = int(idx)
        else:
            visible = os.environ.get("CUDA_VISIBLE_DEVICES")
            raise ValueError(f"--device {spec}: no such CUDA device ({count} visible"
                             + (f", CUDA_VISIBLE_DEVICES={visible}" if visible is not None else "")
                             + ")")
        return f"cuda:{index}"

    @property
    def device(self):
        import torch

        return torch.device("cuda", self.index)

    def set_current(self) -> None:
        self.cuda.set_device(self.index)  # an int: torch refuses an index-less torch.device

    def synchronize(self) -> None:
        self.cuda.synchronize(self.index)

    def timer(self) -> Timer:
        return CudaEventTimer(self.cuda, self.index)

    def free(self) -> None:
        gc.collect()
        self.cuda.empty_cache()

    def configure(self, *, deterministic: bool = False) -> dict[str, Any]:
        """cuDNN autotuning during warm-up (as timm's benchmark does), or deterministic kernels
        and a fixed cuBLAS workspace for bit-reproducible training."""
        cudnn = self.cudnn_api()
        cudnn.benchmark = not deterministic
        if deterministic:
            cudnn.deterministic = True
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        return {"cudnn_benchmark": not deterministic}

    def graph_replay(self, fn: Callable[[Any], Any]) -> CudaGraphReplay:
        return CudaGraphReplay(self.cuda, fn)

    # ---- memory -------------------------------------------------------------------------------

    def measure_memory(self, run: Callable[[], None], *, isolated: bool = True) -> MemoryResult:
        cuda, i = self.cuda, self.index
        cuda.synchronize(i)
        gc.collect()
        cuda.empty_cache()  # first: blocks cached by earlier passes must not be in the peak
        cuda.reset_peak_memory_stats(i)
        before = cuda.memory_allocated(i)
        host_reset = reset_rss_peak()
        rss0 = current_rss_bytes()
        run()
        cuda.synchronize(i)
        reserved = int(cuda.max_memory_reserved(i))
        detail: dict[str, Any] = {
            "peak_allocated_bytes": int(cuda.max_memory_allocated(i)),
            "peak_reserved_bytes": reserved, "allocated_before_bytes": int(before),
            "host_peak_rss_bytes": peak_rss_bytes() if host_reset else None,
            "host_rss_baseline_bytes": rss0, "isolated_process": isolated,
            **self.nvml_memory()}
        return MemoryResult(reserved, "cuda: peak reserved", detail)

    def uuid(self) -> str | None:
        props = self.cuda.get_device_properties(self.index)
        u = getattr(props, "uuid", None)
        return None if u is None else _norm_uuid(u)

    def nvml_memory(self) -> dict[str, Any]:
        """This process's device memory as NVML sees it: ``nvml_process_bytes``, ``nvml_method``
        (how it was found) or ``nvml_error`` (why not)."""
        try:
            nvml = self.nvml_api()
        except ImportError:
            return {"nvml_process_bytes": None,
                    "nvml_error": "pynvml not installed (pip install nvidia-ml-py)"}
        try:
            nvml.nvmlInit()
        except Exception as exc:  # no driver library, no permission
            return {"nvml_process_bytes": None, "nvml_error": f"nvmlInit failed: {exc}"}
        try:
            return self._nvml_query(nvml)
        except Exception as exc:
            return {"nvml_process_bytes": None,
                    "nvml_error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        finally:
            try:
                nvml.nvmlShutdown()
            except Exception:
                pass

    def _nvml_query(self, nvml: Any) -> dict[str, Any]:
        # NVML numbers every physical GPU and ignores CUDA_VISIBLE_DEVICES: match by UUID.
        want = self.uuid()
        if want is None:
            return {"nvml_process_bytes": None,
                    "nvml_error": "this torch reports no device UUID to match NVML's devices"}
        handle = None
        for k in range(nvml.nvmlDeviceGetCount()):
            h = nvml.nvmlDeviceGetHandleByIndex(k)
            if _norm_uuid(nvml.nvmlDeviceGetUUID(h)) == want:
                handle = h
                break
        if handle is None:
            return {"nvml_process_bytes": None,
                    "nvml_error": f"no NVML device has the UUID of {self.name} ({want})"}
        procs = list(nvml.nvmlDeviceGetComputeRunningProcesses(handle))
        pid = os.getpid()
        mine = [p for p in procs if p.pid == pid]
        if mine:
            used, method = mine[0].usedGpuMemory, "process by PID"
        elif len(procs) == 1:
            used = procs[0].usedGpuMemory
            method = ("the device's only compute process (PID not matched: NVML reports host "
                      "PIDs, this process runs in a PID namespace such as a container)")
        else:
            used = nvml.nvmlDeviceGetMemoryInfo(handle).used
            method = (f"device memory in use (PID not matched among {len(procs)} processes: "
                      "includes other processes and their contexts)")
        if used is None:
            return {"nvml_process_bytes": None, "nvml_method": method,
                    "nvml_error": "NVML gives no per-process memory here (MIG, or WDDM driver)"}
        return {"nvml_process_bytes": int(used), "nvml_method": method}

    # ---- precision ---------------------------------------------------------------------------

    def capability(self) -> tuple[int, int]:
        major, minor = self.cuda.get_device_capability(self.index)
        return int(major), int(minor)

    def choose_precision(self, requested: str = "auto") -> PrecisionChoice:
        """``auto``: bf16 autocast where the GPU runs bf16 natively (compute capability >= 8.0),
        else fp16 autocast with loss scaling. (``torch.cuda.is_bf16_supported()`` also says yes
        when bf16 is only emulated, e.g. on V100 and T4, where it is several times slower.)"""
        major, minor = self.capability()
        cc = f"compute capability {major}.{minor}"
        native = major >= NATIVE_BF16_MAJOR
        if requested == "auto":
            if native:
                return PrecisionChoice("amp-bf16", f"auto: bf16 autocast ({cc} >= 8.0 runs bf16 "
                                                   "natively)")
            return PrecisionChoice("amp-fp16", f"auto: fp16 autocast with loss scaling ({cc} < "
                                               "8.0 has no native bf16)")
        check_precision(requested)
        if requested == "amp-bf16" and not native:
            return PrecisionChoice(requested, f"requested; bf16 is emulated on {cc} (slow)")
        return PrecisionChoice(requested, "requested")

    # ---- failures, RNG, records ----------------------------------------------------------------

    def is_oom(self, exc: BaseException) -> bool:
        if host_oom(exc):
            return True
        return isinstance(exc, RuntimeError) and any(m in str(exc) for m in CUDA_OOM_MARKERS)

    def rng_state(self):
        return self.cuda.get_rng_state(self.index)

    def set_rng_state(self, state) -> None:
        if state is not None:
            self.cuda.set_rng_state(state, self.index)

    def device_name(self) -> str:
        return self.cuda.get_device_name(self.index)

    def environment(self) -> dict[str, Any]:
        props = self.cuda.get_device_properties(self.index)
        major, minor = self.capability()
        return {**super().environment(), "compute_capability": f"{major}.{minor}",
                "device_memory_bytes": int(props.total_memory),
                "multiprocessors": getattr(props, "multi_processor_count", None),
                "device_uuid": self.uuid(),
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}
