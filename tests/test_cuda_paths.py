"""litevid's CUDA paths, run on the CPU through the fake CUDA (``litevid.devices.fake_cuda``).

The real ``CudaBackend`` orchestration runs on CPU tensors while every ``torch.cuda``, cuDNN and
NVML call it makes is answered and recorded by the fake, so these tests assert the protocol: an
indexed device made current, events on the current stream synchronised before ``elapsed_time``,
the cache emptied before the peaks are reset, the precision chosen by compute capability with a
grad scaler only for fp16, out-of-memory errors of cuBLAS/cuDNN, NVML matched by UUID and PID,
per-rank RNG states in DDP checkpoints, and the whole ``litevid bench --device cuda`` path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from litevid.bench.config import BenchConfig, Job
from litevid.bench.modes import PreparedStep, prepare_step
from litevid.bench.runner import run_job
from litevid.cli import main
from litevid.devices import get_backend, resolve_device
from litevid.devices import fake_cuda as fc

pytestmark = pytest.mark.fake_cuda

TESTS = Path(__file__).resolve().parent
SHARED = TESTS.parent.parent / "shared" / "data"
TINY = "_litevid_tiny_train"
CUBLAS_OOM = "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"


@pytest.fixture
def fake(monkeypatch):
    """``fake(spec)`` installs a fresh fake CUDA for this test (undone afterwards)."""
    def make(spec: str = "count=1,cc=8.0"):
        return fc.install(spec, env=monkeypatch)

    return make


def _job(device: str = "cuda:0", mode: str = "single", batch: int = 1, **config) -> Job:
    base = dict(device=device, warmup=2, iters=3, max_iters=3, min_seconds=0.0, memory_iters=1,
                in_process=True)
    cfg = BenchConfig(**{**base, **config}).resolved("cuda")
    return Job(model="_tiny_train_net", mode=mode, batch_size=batch, device=device, config=cfg)


def _factory(*, raise_at: int | None = None, exc: BaseException | None = None,
             above_batch: int | None = None, on_call=None):
    """A ``step_factory`` whose step raises ``exc`` from its ``raise_at``-th call on (or at every
    call for batches above ``above_batch``); ``on_call(n)`` runs inside each call."""
    def factory(model, mode, x, target, **kw):
        prepared = prepare_step(model, mode, x, target, **kw)
        calls = [0]

        def step():
            calls[0] += 1
            if on_call is not None:
                on_call(calls[0])
            if above_batch is not None and x.shape[0] > above_batch:
                raise exc
            if raise_at is not None and calls[0] >= raise_at:
                raise exc
            prepared.step()

        return PreparedStep(step=step, context=prepared.context,
                            grad_scaler=prepared.grad_scaler)

    return factory


# ---- resolving the device (defect: `cuda` had no index) --------------------------------------

def test_cuda_and_auto_resolve_to_the_current_indexed_device(fake):
    gpu = fake("count=2,cc=8.0")
    assert resolve_device("cuda") == resolve_device("auto") == "cuda:0"
    gpu.current = 1
    assert resolve_device("cuda") == resolve_device("auto") == "cuda:1"
    assert resolve_device("cuda", local_rank=3, world_size=4) == "cuda:1"  # torchrun: LOCAL_RANK
    assert resolve_device("cuda:0") == "cuda:0" and resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match=r"cuda:2: no such CUDA device \(2 visible"):
        resolve_device("cuda:2")
    with pytest.raises(ValueError, match="choose auto, cpu, cuda"):
        resolve_device("tpu")
    # torch's own rule, which the fake keeps: set_device refuses an index-less device
    with pytest.raises(ValueError, match="specified index"):
        gpu.set_device(torch.device("cuda"))


def test_one_resolver_for_bench_train_and_predict(fake):
    from litevid.train.distributed import DistContext

    gpu = fake("count=2,cc=8.0")
    gpu.current = 1
    dist = DistContext.from_env("cuda")  # what train / eval use
    assert dist.backend.name == "cuda:1" == get_backend("cuda").name  # what bench / predict use
    assert ("set_device", 1) in gpu.calls  # made current, with an index
    assert dist.backend.dist_backend == "gloo"  # the fake's process group runs on the CPU


def test_run_job_on_cuda_sets_an_indexed_device_and_times_with_events(fake, tiny):
    gpu = fake("count=2,cc=8.0")
    row = run_job(_job(device="cuda:1"))
    assert row.status == "ok", row.status
    assert gpu.calls[0] == ("set_device", 1)
    assert ("cudnn.benchmark", True) in gpu.calls  # autotuning during warm-up
    assert row.timer == "cuda_event" and row.n == 3
    assert row.settings["device"] == "cuda:1" and row.device_type == "cuda"
    assert row.device_name.startswith("FAKE")  # a fake row can never pass for a GPU's
    # every sample: start and end recorded on the current stream, end synchronised, then read
    names = gpu.names()
    first = names.index("event.record")
    samples = names[first:first + 12]
    assert samples == ["event.record", "event.record", "event.synchronize",
                       "event.elapsed_time"] * 3
    records = [c for c in gpu.calls if c[0] == "event.record"]
    assert all(c[1] == 1 and c[3] is True for c in records)  # device 1, its current stream
    assert all(c[1] is True for c in gpu.calls if c[0] == "event.elapsed_time")


def test_event_timer_follows_the_current_stream_and_needs_the_sync(fake):
    from litevid.devices.cuda import CudaEventTimer

    gpu = fake()
    timer = CudaEventTimer(gpu, 0)
    side = gpu.Stream()
    with gpu.stream(side):
        timer.time_step(lambda: None)
    assert [c[2] for c in gpu.calls if c[0] == "event.record"] == [side.name, side.name]
    start, end = gpu.Event(enable_timing=True), gpu.Event(enable_timing=True)
    start.record()
    end.record()
    with pytest.raises(RuntimeError, match="device not ready"):  # CUDA refuses it too
        start.elapsed_time(end)


# ---- precision (defect: bf16 picked where it is only emulated) ---------------------------------

@pytest.mark.parametrize("cc, expected, scaler", [("7.0", "amp-fp16", True),
                                                  ("7.5", "amp-fp16", True),
                                                  ("8.0", "amp-bf16", False),
                                                  ("9.0", "amp-bf16", False)])
def test_auto_precision_is_bf16_only_where_native(fake, cc, expected, scaler):
    fake(f"count=1,cc={cc}")
    gpu = get_backend("cuda")
    choice = gpu.choose_precision("auto")
    assert choice.precision == expected and choice.grad_scaling is scaler
    assert f"compute capability {cc}" in choice.reason
    assert (gpu.grad_scaler(choice.precision) is not None) is scaler
    assert gpu.grad_scaler("amp-bf16") is None and gpu.grad_scaler("fp32") is None
    assert not gpu.grad_scaler("amp-bf16", always=True).is_enabled()  # state for checkpoints
    if cc == "7.0":
        assert "emulated" in gpu.choose_precision("amp-bf16").reason


@pytest.mark.parametrize("cc, precision, scaled", [("7.0", "amp-fp16", True),
                                                   ("8.0", "amp-bf16", False)])
def test_bench_train_row_records_the_precision_choice_and_scaler(fake, tiny, cc, precision,
                                                                 scaled):
    fake(f"count=1,cc={cc}")
    row = run_job(_job(mode="train", batch=2))
    assert row.status == "ok", row.status
    assert row.precision == precision and row.settings["grad_scaler"] is scaled
    assert row.settings["run_config"]["precision"] == "auto"
    assert row.settings["precision_choice"].startswith("auto: ")
    inference = run_job(_job(mode="single"))
    assert inference.precision == precision and inference.settings["grad_scaler"] is False


def test_inference_opens_autocast_per_step():
    """Autocast must not stay open around the timed loop: its cache of fp16/bf16 weight copies
    lives as long as the context, which a serving loop never keeps."""
    model = torch.nn.Sequential(torch.nn.Conv3d(3, 4, 1), torch.nn.Flatten(), torch.nn.LazyLinear(2))
    seen = []
    model.register_forward_hook(lambda m, a, o: seen.append(torch.is_autocast_enabled("cpu")))
    x = torch.randn(1, 3, 2, 4, 4)
    prepared = prepare_step(model, "single", x, torch.zeros(1, dtype=torch.long),
                            device=get_backend("cpu"), precision="amp-bf16")
    with prepared.context():
        assert torch.is_inference_mode_enabled()
        assert not torch.is_autocast_enabled("cpu")  # between steps: closed
        prepared.step()
        prepared.step()
        assert not torch.is_autocast_enabled("cpu")
    assert seen == [True, True]  # inside each step: open


# ---- memory (defect: peaks carried warm-up / autotuning memory) ---------------------------------

def test_memory_pass_empties_the_cache_before_resetting_the_peaks(fake, tiny):
    gpu = fake()
    warm, passed = 6 << 30, 100 << 20
    warmup_steps = 2 + 3  # warm-up, then the timed loop

    def on_call(n):
        # warm-up and timing leave a 6 GiB block in the cache (cuDNN autotuning, compile...);
        # each memory-pass step allocates and frees 100 MiB
        size = warm if n <= warmup_steps else passed
        gpu.simulate_alloc(size)
        gpu.simulate_free(size)

    row = run_job(_job(), step_factory=_factory(on_call=on_call))
    assert row.status == "ok", row.status
    assert row.mem_kind == "cuda: peak reserved"
    assert row.peak_mem_bytes == passed and row.mem_detail["peak_allocated_bytes"] == passed
    names = gpu.names()
    assert names.index("empty_cache") < names.index("reset_peak_memory_stats")


def test_oom_in_the_memory_or_profile_pass_keeps_the_timing(fake, tiny):
    fake()
    steps_before = 2 + 3  # warm-up + timed runs succeed, the memory pass runs out of memory
    row = run_job(_job(), step_factory=_factory(raise_at=steps_before + 1,
                                                exc=torch.OutOfMemoryError("CUDA out of memory")))
    assert row.status == "ok" and row.n == 3 and row.median_ms is not None
    assert row.pass_errors == {"memory": "oom"} and row.peak_mem_bytes is None
    row = run_job(_job(profile=True), step_factory=_factory(
        raise_at=steps_before + 2, exc=RuntimeError(CUBLAS_OOM)))  # memory ok, profile fails
    assert row.status == "ok" and row.peak_mem_bytes is not None
    assert row.pass_errors == {"profile": "oom"} and row.profile is None
    from litevid.results.table import status_label

    assert status_label(row.to_dict()) == "ok; profile pass: oom"


def test_oom_while_timing_is_an_oom_row(fake, tiny):
    fake()
    row = run_job(_job(), step_factory=_factory(raise_at=4, exc=RuntimeError(CUBLAS_OOM)))
    assert row.status == "oom" and row.median_ms is None


# ---- out of memory beyond torch's OOM error (defect: fit-batch aborted) --------------------------

@pytest.mark.parametrize("message", [CUBLAS_OOM, "cuDNN error: CUDNN_STATUS_ALLOC_FAILED",
                                     "cuDNN error: CUDNN_STATUS_NOT_ENOUGH_WORKSPACE"])
def test_cublas_and_cudnn_allocation_failures_are_oom(fake, tiny, message):
    fake()
    gpu = get_backend("cuda")
    assert gpu.is_oom(RuntimeError(message)) and not gpu.is_oom(RuntimeError("shape mismatch"))
    row = run_job(_job(mode="batch", batch=8, fit_batch=True),
                  step_factory=_factory(above_batch=3, exc=RuntimeError(message)))
    assert row.status == "ok", row.status
    assert (row.batch, row.requested_batch) == (3, 8)


# ---- NVML (defect: matched by index, silent None) ----------------------------------------------

def test_nvml_matches_the_device_by_uuid_and_the_process_by_pid(fake, tiny):
    gpu = fake("count=2,cc=8.0,nvml=pid")
    gpu.simulate_alloc(300 << 20, device=0)
    mem = get_backend("cuda:0").nvml_memory()
    # NVML lists an invisible GPU first and the visible ones reversed: index 0 would be wrong
    assert mem["nvml_process_bytes"] == (300 << 20) + fc.CONTEXT_BYTES
    assert mem["nvml_method"] == "process by PID" and "nvml_error" not in mem
    assert get_backend("cuda:1").nvml_memory()["nvml_process_bytes"] == fc.CONTEXT_BYTES
    row = run_job(_job(device="cuda:0"))
    assert row.mem_detail["nvml_method"] == "process by PID"
    assert row.mem_detail["nvml_process_bytes"] >= fc.CONTEXT_BYTES


@pytest.mark.parametrize("mode, method, error", [
    ("namespaced", "only compute process", None),
    ("shared", "includes other processes", None),
    ("missing", None, "pynvml not installed"),
    ("broken", None, "nvmlInit failed"),
])
def test_nvml_fallbacks_and_failures_are_stated(fake, mode, method, error):
    fake(f"count=1,cc=8.0,nvml={mode}")
    mem = get_backend("cuda:0").nvml_memory()
    if method is not None:
        assert method in mem["nvml_method"] and mem["nvml_process_bytes"] > 0
    if error is not None:
        assert mem["nvml_process_bytes"] is None and error in mem["nvml_error"]


# ---- CUDA graphs (defect: inference-mode inputs) ------------------------------------------------

def test_cuda_graphs_take_inputs_made_inside_or_outside_inference_mode(fake):
    gpu = fake()
    model = torch.nn.Linear(4, 3).eval().requires_grad_(False)
    replay = get_backend("cuda").graph_replay(model)
    with torch.inference_mode():
        a = torch.randn(2, 4)
        out_a = replay(a)  # captured inside inference_mode, from an inference tensor
    b = torch.randn(2, 4)
    out_b = replay(b)  # replayed outside it, with an ordinary tensor
    with torch.inference_mode():
        replay(torch.randn(2, 4))
    (graph, static_x, static_out), = replay.graphs.values()  # one capture for the shape
    assert not static_x.is_inference()  # the buffer takes in-place copies in both modes
    assert torch.allclose(out_a, model(a)) and out_a is not static_out
    assert graph.replays == 3 and gpu.names().count("graph.capture_begin") == 1
    replay(b)
    assert torch.equal(static_x, b)  # the input was copied into the captured buffer
    assert out_b is not static_out and not out_b.is_inference()


# ---- the layout rule (measured on CPU only) -----------------------------------------------------

def test_layout_rule_is_not_applied_on_cuda_until_measured_there():
    from litevid.optimization import choose_layout

    assert choose_layout(0.9, "cpu") == "channels_last"
    assert choose_layout(0.9, "cuda") == "contiguous" == choose_layout(0.9, "mps")
    assert BenchConfig().resolved("cuda").channels_last is False  # --channels-last is a choice


# ---- predict (defect: synchronised device 0 whatever the device) --------------------------------

def test_predict_on_cuda_n_sets_and_synchronises_that_device(fake, tiny, tmp_path, capsys):
    from PIL import Image

    from litevid import create_model

    gpu = fake("count=2,cc=8.0")
    frames = tmp_path / "clip"
    frames.mkdir()
    for i in range(8):
        Image.new("RGB", (40, 36), (30 * i, 90, 200)).save(frames / f"img_{i + 1:05d}.jpg")
    ckpt = tmp_path / "tiny.pt"
    torch.save(create_model("_tiny_train_net", num_classes=3).state_dict(), ckpt)
    rc = main(["predict", str(frames), "--model", "_tiny_train_net", "--checkpoint", str(ckpt),
               "--num-classes", "3", "--device", "cuda:1", "--db", str(tmp_path / "r.db")])
    assert rc == 0, capsys.readouterr().err
    assert "model " in capsys.readouterr().out
    assert ("set_device", 1) in gpu.calls
    syncs = [c[1] for c in gpu.calls if c[0] == "synchronize"]
    assert len(syncs) >= 3 and set(syncs) == {1}  # warm-up, after preprocess, after the model
    from litevid.results import ResultStore

    with ResultStore(tmp_path / "r.db", readonly=True) as store:
        (row,) = store.rows(mode="end-to-end")
    assert row["timer"] == "synchronize+perf_counter" and row["device_type"] == "cuda"


# ---- the whole command, through worker processes ------------------------------------------------

def _rows(db: Path) -> list[dict]:
    from litevid.results import ResultStore

    with ResultStore(db, readonly=True) as store:
        return list(store.rows())


def test_litevid_bench_device_cuda_end_to_end(fake, tmp_path, monkeypatch):
    """``litevid bench --device cuda`` (index-less, worker processes) writes ok rows."""
    fake("count=1,cc=8.0")
    monkeypatch.setenv(fc.FAKE_CUDA_LOG_ENV, str(tmp_path))
    db = tmp_path / "gpu.db"
    rc = main(["bench", "--device", "cuda", "--models", "movinet_a0", "--modes", "single,train",
               "--batch-size", "2", "--frames", "4", "--size", "64", "--warmup", "1",
               "--iters", "2", "--db", str(db)])
    assert rc == 0
    rows = _rows(db)
    assert [(r["mode"], r["status"]) for r in rows] == [("single", "ok"), ("train", "ok")]
    for r in rows:
        settings = r["settings"]
        assert settings["device"] == "cuda:0" and settings["isolated"] is True
        assert r["timer"] == "cuda_event" and r["mem_kind"] == "cuda: peak reserved"
        assert r["precision"] == "amp-bf16" and r["n"] == 2 and r["device_type"] == "cuda"
        assert r["env"]["fake_cuda"]["cc"] == "8.0"
    logged = fc.read_logs(tmp_path)
    workers = {e["pid"] for e in logged}
    assert len(workers) >= 2  # one worker process per (model, mode)
    assert [e["args"] for e in logged if e["call"] == "set_device"] == [[0]] * len(workers)


def test_litevid_bench_in_process_cuda_sweep_runs(fake, tiny, tmp_path):
    """``--in-process`` used to abort the sweep at ``set_device(torch.device('cuda'))``."""
    fake("count=1,cc=7.0")
    db = tmp_path / "r.db"
    rc = main(["bench", "--device", "cuda", "--models", "_tiny_train_net", "--import", TINY,
               "--warmup", "1", "--iters", "2", "--batch-size", "2", "--in-process",
               "--db", str(db)])
    assert rc == 0
    rows = _rows(db)
    assert [(r["mode"], r["status"], r["precision"]) for r in rows] == [
        ("train", "ok", "amp-fp16"), ("batch", "ok", "amp-fp16"), ("single", "ok", "amp-fp16")]


# ---- training: per-rank RNG states in DDP checkpoints -------------------------------------------

def _env(log: Path | None = None, spec: str = "count=2,cc=8.0") -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(TESTS.parent / "src"),
                                         env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    env[fc.FAKE_CUDA_ENV] = spec
    if log is not None:
        env[fc.FAKE_CUDA_LOG_ENV] = str(log)
    return env


SMALL = ["--dataset", "synthetic", "--num-clips", "16", "--frames", "4", "--size", "32",
         "--batch-size", "2", "--effective-batch", "4", "--workers", "0", "--import", TINY,
         "--model", "_tiny_train_net", "--device", "cuda", "--epochs", "2"]


def _train(nproc: int, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    launcher = ([sys.executable, "-m", "litevid"] if nproc == 1 else
                [sys.executable, "-m", "torch.distributed.run", "--standalone",
                 f"--nproc_per_node={nproc}", "-m", "litevid"])
    return subprocess.run([*launcher, "train", *SMALL, *args], env=env, capture_output=True,
                          text=True, timeout=300)


def _digest(state: torch.Tensor) -> str:
    return f"tensor:{int(state.to(torch.int64).sum())}"


@pytest.mark.slow
def test_ddp_checkpoints_and_restores_each_ranks_own_device_rng(tmp_path):
    from litevid.train.checkpoint import load_checkpoint

    out, db = tmp_path / "run", str(tmp_path / "r.db")
    r = _train(2, "--max-steps", "1", "--out", str(out), "--db", db, env=_env())
    assert r.returncode == 0, r.stderr[-2000:]
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["world_size"] == 2 and ckpt["state"]["batch_in_epoch"] > 0  # mid-epoch
    per_rank = ckpt["rng_per_rank"]
    assert [s["device"]["type"] for s in per_rank] == ["cuda", "cuda"]
    own = [torch.Generator().manual_seed(1000 + i).get_state() for i in range(2)]  # the fake's
    assert all(torch.equal(per_rank[i]["device"]["state"], own[i]) for i in range(2))
    assert not torch.equal(own[0], own[1])

    log = tmp_path / "log"
    log.mkdir()
    r = _train(2, "--max-steps", "2", "--resume", str(out / "last.pt"), "--db", db,
               env=_env(log))
    assert r.returncode == 0, r.stderr[-2000:]
    restored = {(e["rank"], e["args"][0], e["args"][1]) for e in fc.read_logs(log)
                if e["call"] == "set_rng_state"}
    assert restored == {("0", 0, _digest(own[0])), ("1", 1, _digest(own[1]))}

    # another number of processes: mid-epoch it cannot be exact, and says so in one line
    r = _train(1, "--max-steps", "3", "--resume", str(out / "last.pt"), "--db", db, env=_env())
    assert r.returncode == 2
    assert "resumes exactly only with 2" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_resume_with_fewer_gpus_works_from_an_epoch_boundary(tmp_path):
    from litevid.train.checkpoint import load_checkpoint

    out, db = tmp_path / "run", str(tmp_path / "r.db")
    r = _train(2, "--epochs", "1", "--out", str(out), "--db", db, env=_env())
    assert r.returncode == 0, r.stderr[-2000:]
    assert load_checkpoint(out / "last.pt")["state"]["batch_in_epoch"] == 0
    r = _train(1, "--resume", str(out / "last.pt"), "--db", db, env=_env(spec="count=1,cc=8.0"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "saved by 2 process(es), resumed with 1" in r.stdout
    assert load_checkpoint(out / "last.pt")["state"]["epoch"] == 2
