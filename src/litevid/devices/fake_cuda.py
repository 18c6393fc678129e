"""A fake CUDA for machines without a GPU: the real ``CudaBackend`` runs on CPU tensors while
every ``torch.cuda``, cuDNN and NVML call it makes is answered and recorded here.

It is how litevid's CUDA paths are tested in CI (pytest marker ``fake_cuda``) and how
``tools/gpu_protocol.py --dry-run`` rehearses the GPU protocol on a CPU. Set the environment
variable ``LITEVID_FAKE_CUDA`` (worker processes and torchrun ranks inherit it) and ``cuda``
devices resolve to ``FakeCudaBackend``::

    LITEVID_FAKE_CUDA="count=2,cc=7.0,nvml=namespaced" litevid bench --device cuda --models movinet_a0

Options (comma-separated ``key=value``): ``count`` visible devices (1), ``cc`` compute capability
(8.0), ``nvml``: ``pid`` (this process listed by its PID, the default), ``namespaced`` (listed
under another PID, as in a container), ``shared`` (several other processes), ``missing``
(pynvml not installed) or ``broken`` (``nvmlInit`` fails). With ``LITEVID_FAKE_CUDA_LOG=DIR``
each process also appends its calls to ``DIR/fake-cuda-<pid>.jsonl``.

What is simulated: device count, properties and UUIDs (NVML lists the visible devices in another
order behind one invisible GPU, as ``CUDA_VISIBLE_DEVICES`` makes it); ``set_device``, which
refuses an index-less device like torch; events whose elapsed time is the host clock between
their ``record`` calls and which refuse ``elapsed_time`` before the end event is synchronised
(CUDA's "device not ready"); streams; allocator statistics driven by ``simulate_alloc`` /
``simulate_free`` (``empty_cache`` drops the cached blocks, ``reset_peak_memory_stats`` sets the
peaks to the current values); per-device RNG states (distinct per device); CUDA graphs whose
capture runs the function once and whose replay is recorded only. Rows measured through it say
so: their device name starts with "FAKE".
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Iterator

from .cuda import CudaBackend

__all__ = ["FAKE_CUDA_ENV", "FAKE_CUDA_LOG_ENV", "FakeCuda", "FakeCudaBackend", "current",
           "install", "parse_spec", "read_logs"]

FAKE_CUDA_ENV = "LITEVID_FAKE_CUDA"
FAKE_CUDA_LOG_ENV = "LITEVID_FAKE_CUDA_LOG"
CONTEXT_BYTES = 500 << 20  # what NVML adds for the CUDA context and library workspaces
NVML_MODES = ("pid", "namespaced", "shared", "missing", "broken")


def parse_spec(spec: str) -> dict[str, Any]:
    """``"count=2,cc=7.0,nvml=pid"`` -> keyword arguments of ``FakeCuda`` (``""`` or ``"1"``: the
    defaults). A ``ValueError`` names a bad option."""
    out: dict[str, Any] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part or part in ("1", "on", "true"):
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"{FAKE_CUDA_ENV}={spec!r}: expected key=value, got {part!r}")
        if key == "count":
            out["count"] = int(value)
        elif key == "cc":
            major, _, minor = value.partition(".")
            out["capability"] = (int(major), int(minor or 0))
        elif key == "nvml":
            if value not in NVML_MODES:
                raise ValueError(f"{FAKE_CUDA_ENV}: nvml={value!r}; choose {', '.join(NVML_MODES)}")
            out["nvml"] = value
        else:
            raise ValueError(f"{FAKE_CUDA_ENV}: unknown option {key!r} (count, cc, nvml)")
    return out


def _json_safe(v: Any) -> Any:
    import torch

    if isinstance(v, torch.Tensor):
        return f"tensor:{int(v.to(torch.int64).sum())}"  # a digest of RNG states
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    return repr(v)


class FakeStream:
    def __init__(self, fake: "FakeCuda", device: int, name: str) -> None:
        self.fake, self.device, self.name = fake, device, name

    def wait_stream(self, other: "FakeStream") -> None:
        self.fake.log("stream.wait_stream", self.name, other.name)

    def synchronize(self) -> None:
        self.fake.log("stream.synchronize", self.name)

    def __repr__(self) -> str:
        return f"FakeStream({self.name!r}, device={self.device})"


class FakeEvent:
    def __init__(self, fake: "FakeCuda", enable_timing: bool) -> None:
        self.fake, self.enable_timing = fake, enable_timing
        self.t: float | None = None
        self.done = False
        self.stream: FakeStream | None = None

    def record(self, stream: FakeStream | None = None) -> None:
        self.stream = stream if stream is not None else self.fake.current_stream()
        self.t, self.done = time.perf_counter(), False
        self.fake.log("event.record", self.stream.device, self.stream.name,
                      self.stream is self.fake.current_stream(self.stream.device))

    def synchronize(self) -> None:
        self.done = True
        self.fake.log("event.synchronize")

    def query(self) -> bool:
        return self.done

    def elapsed_time(self, end: "FakeEvent") -> float:
        self.fake.log("event.elapsed_time", end.done)
        if not self.enable_timing or self.t is None or end.t is None:
            raise RuntimeError("fake cuda: elapsed_time needs two recorded timing events")
        if not end.done:
            raise RuntimeError("fake cuda: CUDA error: device not ready (elapsed_time before "
                               "the end event was synchronised)")
        return (end.t - self.t) * 1e3


class FakeGraph:
    def __init__(self, fake: "FakeCuda") -> None:
        self.fake, self.captured, self.replays = fake, False, 0

    def replay(self) -> None:
        if not self.captured:
            raise RuntimeError("fake cuda: replay of a graph that was never captured")
        self.replays += 1
        self.fake.log("graph.replay")


class _Cudnn:
    """``torch.backends.cudnn``'s two switches, recorded."""

    def __init__(self, fake: "FakeCuda") -> None:
        object.__setattr__(self, "fake", fake)
        object.__setattr__(self, "benchmark", False)
        object.__setattr__(self, "deterministic", False)

    def __setattr__(self, name: str, value: Any) -> None:
        self.fake.log(f"cudnn.{name}", value)
        object.__setattr__(self, name, value)


@dataclass
class _Proc:
    pid: int
    usedGpuMemory: int | None  # noqa: N815 (NVML's field name)


class FakeNvml:
    """The part of ``pynvml`` litevid uses. Physical order: one GPU that is not visible to CUDA,
    then the visible ones in reverse, so matching by index would pick the wrong GPU."""

    def __init__(self, fake: "FakeCuda", mode: str) -> None:
        self.fake, self.mode = fake, mode
        self.order = [None, *reversed(range(fake.count))]  # None: a GPU CUDA does not see

    def nvmlInit(self) -> None:  # noqa: N802 (NVML's names)
        self.fake.log("nvml.init")
        if self.mode == "broken":
            raise RuntimeError("NVML Shared Library Not Found")

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.fake.log("nvml.shutdown")

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        return len(self.order)

    def nvmlDeviceGetHandleByIndex(self, k: int) -> int:  # noqa: N802
        return k

    def nvmlDeviceGetUUID(self, handle: int) -> str:  # noqa: N802
        cuda_index = self.order[handle]
        return "GPU-" + (self.fake.uuid(cuda_index) if cuda_index is not None
                         else "ffffffff-0000-4000-8000-000000000000")

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[_Proc]:  # noqa: N802
        cuda_index = self.order[handle]
        self.fake.log("nvml.processes", cuda_index)
        if cuda_index is None:
            return []  # the GPU this process cannot see runs nothing of ours
        mine = self.fake.reserved[cuda_index] + CONTEXT_BYTES
        if self.mode == "pid":
            return [_Proc(os.getpid(), mine)]
        if self.mode == "namespaced":
            return [_Proc(1, mine)]  # the host's PID of this process
        return [_Proc(101, mine), _Proc(202, 3 << 30)]

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:  # noqa: N802
        used = sum(p.usedGpuMemory or 0 for p in self.nvmlDeviceGetComputeRunningProcesses(handle))
        return SimpleNamespace(used=used, total=self.fake.total_memory, free=0)


class FakeCuda:
    """Stands in for ``torch.cuda`` (the calls ``CudaBackend`` makes) and records each call in
    ``calls`` as ``(name, *args)``.

    Args:
        count: visible devices.
        capability: compute capability ``(major, minor)`` of every device.
        nvml: how NVML sees this process (see the module docstring).
    """

    def __init__(self, count: int = 1, capability: tuple[int, int] = (8, 0),
                 nvml: str = "pid", total_memory: int = 80 << 30) -> None:
        import torch

        if count < 1:
            raise ValueError(f"{FAKE_CUDA_ENV}: count must be >= 1")
        self.count, self.capability, self.total_memory = count, tuple(capability), total_memory
        self.calls: list[tuple[Any, ...]] = []
        self.current = 0
        self.allocated = [0] * count
        self.reserved = [0] * count
        self.peak_allocated = [0] * count
        self.peak_reserved = [0] * count
        self.rng = [torch.Generator().manual_seed(1000 + i).get_state() for i in range(count)]
        self._streams: dict[int, list[FakeStream]] = {
            i: [FakeStream(self, i, f"default:{i}")] for i in range(count)}
        self.cudnn = _Cudnn(self)
        self.nvml = None if nvml == "missing" else FakeNvml(self, nvml)
        self.spec = {"count": count, "cc": f"{capability[0]}.{capability[1]}", "nvml": nvml}
        log_dir = os.environ.get(FAKE_CUDA_LOG_ENV)
        self._log_path = (os.path.join(log_dir, f"fake-cuda-{os.getpid()}.jsonl")
                          if log_dir else None)

    @property
    def OutOfMemoryError(self) -> type:  # noqa: N802 (torch's name)
        import torch

        return torch.cuda.OutOfMemoryError

    # ---- recording -------------------------------------------------------------------------

    def log(self, name: str, *args: Any) -> None:
        self.calls.append((name, *args))
        if self._log_path is not None:
            with open(self._log_path, "a") as f:
                f.write(json.dumps({"pid": os.getpid(), "rank": os.environ.get("RANK"),
                                    "call": name, "args": _json_safe(list(args))}) + "\n")

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def _index(self, device: Any = None) -> int:
        """A device argument as torch.cuda reads it: None = current, int, 'cuda:N', device."""
        if device is None:
            return self.current
        if isinstance(device, int):
            index = device
        else:
            import torch

            dev = torch.device(device) if isinstance(device, str) else device
            if dev.index is None:
                raise ValueError("Expected a torch.device with a specified index or an integer, "
                                 f"but got:{dev}")
            index = dev.index
        if not 0 <= index < self.count:
            raise RuntimeError(f"fake cuda: CUDA error: invalid device ordinal {index}")
        return index

    # ---- devices ---------------------------------------------------------------------------

    def is_available(self) -> bool:
        return True

    def is_initialized(self) -> bool:
        return True

    def device_count(self) -> int:
        return self.count

    def current_device(self) -> int:
        return self.current

    def set_device(self, device: Any) -> None:
        index = self._index(device) if device is not None else None
        if index is None:
            raise ValueError("Expected a torch.device with a specified index or an integer, "
                             "but got:None")
        self.log("set_device", index)
        self.current = index

    def uuid(self, index: int) -> str:
        return f"5ca1ab1e-0000-4000-8000-{index:012d}"

    def get_device_properties(self, device: Any = None) -> SimpleNamespace:
        i = self._index(device)
        return SimpleNamespace(name=self.get_device_name(i), major=self.capability[0],
                               minor=self.capability[1], total_memory=self.total_memory,
                               multi_processor_count=132, uuid=self.uuid(i))

    def get_device_capability(self, device: Any = None) -> tuple[int, int]:
        self.log("get_device_capability", self._index(device))
        return self.capability  # type: ignore[return-value]

    def get_device_name(self, device: Any = None) -> str:
        return (f"FAKE CUDA GPU cc {self.capability[0]}.{self.capability[1]} "
                "(litevid fake CUDA: CPU tensors)")

    def synchronize(self, device: Any = None) -> None:
        self.log("synchronize", self._index(device))

    # ---- streams, events, graphs -----------------------------------------------------------

    def current_stream(self, device: Any = None) -> FakeStream:
        return self._streams[self._index(device)][-1]

    def Stream(self, device: Any = None) -> FakeStream:  # noqa: N802 (torch's name)
        i = self._index(device)
        return FakeStream(self, i, f"side:{i}:{len(self.calls)}")

    @contextlib.contextmanager
    def stream(self, s: FakeStream) -> Iterator[None]:
        self.log("stream.enter", s.name)
        self._streams[s.device].append(s)
        try:
            yield
        finally:
            self._streams[s.device].pop()
            self.log("stream.exit", s.name)

    def Event(self, enable_timing: bool = False, **_: Any) -> FakeEvent:  # noqa: N802
        return FakeEvent(self, enable_timing)

    def CUDAGraph(self) -> FakeGraph:  # noqa: N802
        return FakeGraph(self)

    @contextlib.contextmanager
    def graph(self, g: FakeGraph, **_: Any) -> Iterator[None]:
        self.log("graph.capture_begin")
        yield
        g.captured = True
        self.log("graph.capture_end")

    # ---- memory ------------------------------------------------------------------------------

    def simulate_alloc(self, nbytes: int, device: Any = None) -> None:
        """Tests: live tensors grow by ``nbytes`` (the cache grows when it must)."""
        i = self._index(device)
        self.allocated[i] += nbytes
        self.reserved[i] = max(self.reserved[i], self.allocated[i])
        self.peak_allocated[i] = max(self.peak_allocated[i], self.allocated[i])
        self.peak_reserved[i] = max(self.peak_reserved[i], self.reserved[i])

    def simulate_free(self, nbytes: int, device: Any = None) -> None:
        """Tests: live tensors shrink by ``nbytes``; their blocks stay cached (reserved)."""
        i = self._index(device)
        self.allocated[i] = max(self.allocated[i] - nbytes, 0)

    def empty_cache(self) -> None:
        i = self.current
        self.log("empty_cache", i)
        self.reserved[i] = self.allocated[i]

    def reset_peak_memory_stats(self, device: Any = None) -> None:
        i = self._index(device)
        self.log("reset_peak_memory_stats", i)
        self.peak_allocated[i], self.peak_reserved[i] = self.allocated[i], self.reserved[i]

    def memory_allocated(self, device: Any = None) -> int:
        return self.allocated[self._index(device)]

    def memory_reserved(self, device: Any = None) -> int:
        return self.reserved[self._index(device)]

    def max_memory_allocated(self, device: Any = None) -> int:
        return self.peak_allocated[self._index(device)]

    def max_memory_reserved(self, device: Any = None) -> int:
        return self.peak_reserved[self._index(device)]

    # ---- RNG ----------------------------------------------------------------------------------

    def get_rng_state(self, device: Any = "cuda") -> Any:
        i = self._index(device if device != "cuda" else None)
        self.log("get_rng_state", i, self.rng[i])
        return self.rng[i].clone()

    def set_rng_state(self, state: Any, device: Any = "cuda") -> None:
        i = self._index(device if device != "cuda" else None)
        self.log("set_rng_state", i, state)
        self.rng[i] = state.clone()


_CURRENT: dict[str, FakeCuda] = {}  # spec string -> the process's fake


def current() -> FakeCuda:
    """This process's fake, made from ``LITEVID_FAKE_CUDA`` on first use."""
    spec = os.environ.get(FAKE_CUDA_ENV)
    if spec is None:
        raise RuntimeError(f"fake CUDA used without {FAKE_CUDA_ENV} set")
    if spec not in _CURRENT:
        _CURRENT.clear()
        _CURRENT[spec] = FakeCuda(**parse_spec(spec))
    return _CURRENT[spec]


def install(spec: str = "count=1,cc=8.0", env: Any = None) -> FakeCuda:
    """Set ``LITEVID_FAKE_CUDA=spec`` (in ``env``, e.g. pytest's ``monkeypatch``, which undoes it;
    else ``os.environ``) and return a fresh fake for this process."""
    if env is not None:
        env.setenv(FAKE_CUDA_ENV, spec)
    else:
        os.environ[FAKE_CUDA_ENV] = spec
    _CURRENT.clear()
    return current()


def read_logs(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """Every call the fakes of all processes logged under ``folder`` (``LITEVID_FAKE_CUDA_LOG``)."""
    out: list[dict[str, Any]] = []
    for name in sorted(os.listdir(folder)):
        if name.startswith("fake-cuda-") and name.endswith(".jsonl"):
            with open(os.path.join(folder, name)) as f:
                out.extend(json.loads(line) for line in f if line.strip())
    return out


class FakeCudaBackend(CudaBackend):
    """``CudaBackend`` driving the fake: the same orchestration, CPU tensors, CPU autocast and
    grad scaling, the gloo process group."""

    amp_device_type = "cpu"
    dist_backend = "gloo"
    pin_memory = False
    profile_clock = "cpu"

    @classmethod
    def cuda_api(cls) -> FakeCuda:
        return current()

    @classmethod
    def cudnn_api(cls) -> Any:
        return current().cudnn

    @classmethod
    def nvml_api(cls) -> Any:
        nvml = current().nvml
        if nvml is None:
            raise ImportError("No module named 'pynvml' (fake CUDA: nvml=missing)")
        return nvml

    @property
    def device(self):
        import torch

        return torch.device("cpu")

    def environment(self) -> dict[str, Any]:
        return {**super().environment(), "fake_cuda": current().spec}
