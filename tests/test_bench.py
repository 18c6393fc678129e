"""Tests of ``litevid bench``: statistics, stopping rule, failure rows, batch search, memory,
configuration defaults and the CLI end to end on tiny models (in-process and in subprocesses).

Tiny models are registered by a small module written to a temporary folder (so the benchmark's
subprocess workers can import it with ``--import``) and unregistered afterwards, so these tests
never depend on which real models exist. Nothing here is a timed pass/fail benchmark.
"""

from __future__ import annotations

import json
import math
import sqlite3
import sys
import textwrap

import pytest
import torch

from litevid.bench import timing
from litevid.bench.config import PAPER_BATCH, BenchConfig
from litevid.bench.modes import PreparedStep, prepare_step
from litevid.bench.runner import Job, fit_batch, run_job
from litevid.devices import PerfCounterTimer, get_backend

CPU = get_backend("cpu")
from litevid.results.stats import percentile, summarize
from litevid.cli import main

TINY_MODULE = "_litevid_bench_tiny_models"
TINY_SOURCE = textwrap.dedent('''
    """Tiny models for litevid's benchmark tests (registered on import)."""
    import os

    import torch
    import torch.nn as nn

    from litevid.models import InitSpec, ModelSpec, VideoModel, register_model


    class TinyNet(VideoModel):
        def __init__(self, num_classes=400, width=8, fail=None):
            super().__init__()
            self.fail = fail
            self.stem = nn.Conv3d(3, width, 3, stride=(1, 2, 2), padding=1)
            self.create_head(width, num_classes)

        def forward_features(self, x):
            if self.fail == "boom":
                raise RuntimeError("boom")
            if self.fail == "oom_gt3" and x.shape[0] > 3:
                raise torch.OutOfMemoryError("simulated: out of memory above batch 3")
            if self.fail == "exit":
                os._exit(3)
            return torch.relu(self.stem(x)).mean(dim=(2, 3, 4))  # (B, width)


    def _spec():
        return ModelSpec(paper_name="tiny", category="baseline", frames=4, size=64,
                         init=InitSpec(dataset=None, method="scratch"))


    @register_model(_spec())
    def _tiny_test_net(**kwargs):
        return TinyNet(**kwargs)


    @register_model(_spec())
    def _tiny_test_boom(**kwargs):
        return TinyNet(fail="boom", **kwargs)


    @register_model(_spec())
    def _tiny_test_oom_gt3(**kwargs):
        return TinyNet(fail="oom_gt3", **kwargs)


    @register_model(_spec())
    def _tiny_test_exit(**kwargs):
        return TinyNet(fail="exit", **kwargs)
''')
TINY_NAMES = ("_tiny_test_net", "_tiny_test_boom", "_tiny_test_oom_gt3", "_tiny_test_exit")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """Register the tiny models in this process; yield the folder holding their module."""
    import importlib

    from litevid.models import _registry

    folder = tmp_path_factory.mktemp("tiny_models")
    (folder / f"{TINY_MODULE}.py").write_text(TINY_SOURCE)
    sys.path.insert(0, str(folder))
    try:
        importlib.import_module(TINY_MODULE)
        yield folder
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(TINY_MODULE, None)
        for name in TINY_NAMES:  # leave the registry as other test files expect it
            _registry._REGISTRY.pop(name, None)


def _job(model: str = "_tiny_test_net", mode: str = "single", batch_size: int = 1,
         **config) -> Job:
    """A job on the CPU, in process, with 1 warm-up and exactly 3 timed runs unless overridden."""
    base = dict(device="cpu", warmup=1, iters=3, max_iters=3, min_seconds=0.0, memory_iters=1,
                in_process=True)
    cfg = BenchConfig(**{**base, **config}).resolved("cpu")
    return Job(model=model, mode=mode, batch_size=batch_size, device="cpu", config=cfg)


def test_flags_are_generated_from_the_config_fields():
    """Each BenchConfig field is one flag with the field's help; unset flags keep defaults."""
    import argparse
    import dataclasses

    from litevid.utils.config import add_arguments, from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser, BenchConfig)
    dests = {a.dest: a for a in parser._actions if a.dest != "help"}
    assert set(dests) == {f.name for f in dataclasses.fields(BenchConfig)}
    for f in dataclasses.fields(BenchConfig):
        assert dests[f.name].help.startswith(f.metadata["help"][:20])
    assert "--import" in dests["import_modules"].option_strings
    assert from_args(BenchConfig, parser.parse_args([])) == BenchConfig()
    cfg = from_args(BenchConfig, parser.parse_args(
        ["--frames", "8", "--min-seconds", "0.5", "--channels-last", "--import", "a,b"]))
    assert (cfg.frames, cfg.min_seconds, cfg.channels_last, cfg.import_modules) == \
        (8, 0.5, True, "a,b")
    with pytest.raises(SystemExit):  # choices come from the field too
        parser.parse_args(["--precision", "fp8"])


# ---- statistics ---------------------------------------------------------------------------------

def test_stats_known_values():
    s = summarize([float(v) for v in range(10, 0, -1)])  # 1..10, given unsorted
    assert s.n == 10
    assert s.mean == pytest.approx(5.5)
    assert s.median == pytest.approx(5.5)
    assert s.p90 == pytest.approx(9.1)  # linear interpolation, like numpy.percentile
    assert s.p99 == pytest.approx(9.91)
    assert s.std == pytest.approx(math.sqrt(110 / 12))  # sample std (n - 1)
    assert s.iqr == pytest.approx(7.75 - 3.25)
    assert s.cv == pytest.approx(s.std / 5.5)
    assert (s.min, s.max) == (1.0, 10.0)
    assert s.noisy  # CV ~ 55%


def test_stats_match_numpy_and_edge_cases():
    np = pytest.importorskip("numpy")
    xs = [3.1, 2.7, 9.4, 3.3, 3.0, 2.9, 3.05, 3.2, 12.0, 3.15, 2.95]
    s = summarize(xs)
    for q, v in ((50, s.median), (90, s.p90), (99, s.p99)):
        assert v == pytest.approx(float(np.percentile(xs, q)))
    assert s.std == pytest.approx(float(np.std(xs, ddof=1)))
    assert s.iqr == pytest.approx(float(np.percentile(xs, 75) - np.percentile(xs, 25)))
    one = summarize([4.0])
    assert (one.std, one.iqr, one.cv, one.median, one.p99) == (0.0, 0.0, 0.0, 4.0, 4.0)
    assert not summarize([10.0, 10.5, 9.5, 10.0]).noisy  # CV ~ 4%
    with pytest.raises(ValueError):
        summarize([])
    with pytest.raises(ValueError):
        percentile([1.0], 101)


# ---- stopping rule ------------------------------------------------------------------------------

class _FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def perf_counter(self) -> float:
        return self.t


class _FakeTimer:
    """Each step 'takes' 0.25 s of the fake clock; the sample is 0.25 s."""

    kind = "fake"

    def __init__(self, clock: _FakeClock) -> None:
        self.clock = clock
        self.calls = 0

    def time_step(self, step) -> float:
        step()
        self.calls += 1
        self.clock.t += 0.25
        return 0.25

    def synchronize(self) -> None:
        pass


@pytest.mark.parametrize("rule, expected", [
    (timing.StopRule(min_iters=2, min_seconds=1.0, max_iters=100), 4),  # time bound decides
    (timing.StopRule(min_iters=6, min_seconds=1.0, max_iters=100), 6),  # count bound decides
    (timing.StopRule(min_iters=2, min_seconds=50.0, max_iters=7), 7),  # maximum caps
    (timing.StopRule(min_iters=5, min_seconds=0.0, max_iters=5), 5),  # the paper's fixed count
])
def test_stopping_rule(monkeypatch, rule, expected):
    clock = _FakeClock()
    monkeypatch.setattr(timing, "time", clock)
    timer = _FakeTimer(clock)
    seen = []
    result = timing.run_timed(lambda: None, timer, rule, on_iter=seen.append)
    assert len(result.samples_ms) == expected == timer.calls
    assert result.samples_ms == [250.0] * expected  # raw samples kept, in ms
    assert seen == list(range(1, expected + 1))
    assert result.wall_s == pytest.approx(0.25 * expected)


def test_stop_rule_validation_and_warmup():
    with pytest.raises(ValueError):
        timing.StopRule(min_iters=10, max_iters=5)
    with pytest.raises(ValueError):
        timing.StopRule(min_iters=0)
    calls = []
    timing.warm_up(lambda: calls.append(1), PerfCounterTimer(), 3)
    assert len(calls) == 3


def test_real_timer_measures_sleep():
    import time

    result = timing.run_timed(lambda: time.sleep(0.01), CPU.timer(),
                              timing.StopRule(min_iters=3, min_seconds=0.0, max_iters=3))
    assert len(result.samples_ms) == 3
    assert all(s >= 9.0 for s in result.samples_ms)


# ---- configuration ------------------------------------------------------------------------------

def test_config_defaults_per_device():
    cpu = BenchConfig().resolved("cpu")
    assert (cpu.modes, cpu.precision, cpu.warmup, cpu.iters, cpu.min_seconds, cpu.max_iters) == \
        ("single", "auto", 2, 10, 10.0, 100)
    assert CPU.choose_precision(cpu.precision).precision == "fp32"
    gpu = BenchConfig().resolved("cuda")  # the study's protocol; precision chosen per GPU
    assert gpu.mode_list() == ["train", "batch", "single"]
    assert (gpu.precision, gpu.warmup, gpu.iters, gpu.max_iters, gpu.min_seconds) == \
        ("auto", 10, 100, 100, 0.0)
    assert [gpu.batch_for(m) for m in ("train", "batch", "single")] == [8, 32, 1] == \
        [PAPER_BATCH[m] for m in ("train", "batch", "single")]
    assert BenchConfig(batch_size=2).batch_for("batch") == 2
    assert BenchConfig(iters=300).resolved("cpu").max_iters == 300
    for bad in (dict(modes="train,fly"), dict(precision="fp8"), dict(iters=5, max_iters=2),
                dict(frames=0), dict(min_seconds=-1.0)):
        with pytest.raises(ValueError):
            BenchConfig(**bad).resolved("cpu")


# ---- failures become rows -----------------------------------------------------------------------

def _failing_factory(exc: BaseException, when: str = "step"):
    def factory(model, mode, x, target, **kw):
        prepared = prepare_step(model, mode, x, target, **kw)
        if when == "prepare":
            raise exc

        def step():
            raise exc

        return PreparedStep(step=step, context=prepared.context)

    return factory


def test_simulated_oom_gives_oom_row(tiny_dir):
    row = run_job(_job(), step_factory=_failing_factory(torch.OutOfMemoryError("CUDA out of memory")))
    assert row.status == "oom"
    assert row.model == "_tiny_test_net" and row.mode == "single"
    assert row.median_ms is None and row.samples_ms is None
    assert row.device_name and row.torch_version == torch.__version__


def test_exception_gives_error_row(tiny_dir):
    row = run_job(_job(mode="train", batch_size=2),
                  step_factory=_failing_factory(ValueError("bad shape\nsecond line")))
    assert row.status == "error: ValueError: bad shape"
    row = run_job(_job(), step_factory=_failing_factory(KeyError("x"), when="prepare"))
    assert row.status.startswith("error: KeyError")


def test_is_oom_recognises_allocator_messages():
    is_oom = CPU.is_oom
    assert is_oom(torch.OutOfMemoryError("x"))
    assert is_oom(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried ..."))
    assert is_oom(RuntimeError("MPS backend out of memory"))
    assert not is_oom(RuntimeError("shape mismatch"))
    assert not is_oom(ValueError("out of memory"))


def test_fit_batch_search():
    tried = []

    def build(limit):
        def build_step(b):
            tried.append(b)

            def step():
                if b > limit:
                    raise torch.OutOfMemoryError("simulated")

            return step

        return build_step

    assert fit_batch(build(100), 8, CPU) == 8
    tried.clear()
    assert fit_batch(build(5), 32, CPU) == 5  # halves to 4, bisects 4..8 -> 5
    assert tried[0] == 32 and 5 in tried and 6 in tried
    assert fit_batch(build(0), 8, CPU) == 0

    def build_other(b):
        def step():
            raise RuntimeError("not memory")

        return step

    with pytest.raises(RuntimeError):  # only OOM shrinks the batch; other errors surface
        fit_batch(build_other, 8, CPU)


def test_run_job_ok_and_fit_batch_recorded(tiny_dir):
    row = run_job(_job(model="_tiny_test_oom_gt3", mode="batch", batch_size=8, fit_batch=True))
    assert row.status == "ok"
    assert (row.batch, row.requested_batch) == (3, 8)  # explicit, never silent
    row = run_job(_job(model="_tiny_test_oom_gt3", mode="batch", batch_size=8))
    assert row.status == "oom" and row.batch == 8  # without --fit-batch: an oom row
    row = run_job(_job(mode="train", batch_size=2))
    assert row.status == "ok", row.status
    assert row.n == 3 and len(row.samples_ms) == 3
    assert row.median_ms == pytest.approx(summarize(row.samples_ms).median)
    assert row.input_shape == "3x4x64x64" and row.gflops > 0
    assert row.tflops == pytest.approx(row.gflops / row.median_ms)
    # train FLOPs (forward + backward) exceed forward-only FLOPs at the same batch
    fwd = run_job(_job(mode="batch", batch_size=2))
    assert row.gflops > 1.5 * fwd.gflops
    assert row.peak_mem_bytes > 0 and row.mem_kind.startswith("cpu: peak RSS")
    # recorded axes: autocast precision and channels-last run and are written into the row
    row = run_job(_job(mode="train", batch_size=2, precision="amp-bf16", channels_last=True))
    assert row.status == "ok", row.status
    assert (row.precision, row.channels_last) == ("amp-bf16", 1)


# ---- memory -------------------------------------------------------------------------------------

def test_cpu_memory_pass_sees_a_large_allocation():
    size = 256 * 2**20

    def run():
        t = torch.ones(size // 4, dtype=torch.float32)  # 256 MiB, touched
        del t

    mem = CPU.measure_memory(run, isolated=False)
    assert mem.kind.startswith("cpu: peak RSS")
    base = mem.detail["rss_baseline_bytes"]
    assert base is None or mem.peak_bytes >= base + 0.9 * size


# ---- CLI ----------------------------------------------------------------------------------------

def _rows(db):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM measurements ORDER BY id")]
    finally:
        con.close()


def test_cli_in_process_tiny_models(tiny_dir, tmp_path, capsys):
    db, js = tmp_path / "r.db", tmp_path / "r.json"
    rc = main(["bench", "--models", "_tiny_test_net,_tiny_test_boom", "--device", "cpu",
               "--modes", "single,train", "--warmup", "1", "--iters", "3", "--max-iters", "3",
               "--min-seconds", "0", "--in-process", "--db", str(db), "--json", str(js)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "_tiny_test_net" in out and "median ms" in out
    # stdout is not a terminal here: one plain line per finished job, in order, before the table
    lines = [ln for ln in out.splitlines() if ln.startswith("[")]
    assert [ln.split(":")[0] for ln in lines] == [
        "[1/4] _tiny_test_net single b1", "[2/4] _tiny_test_net train b8",
        "[3/4] _tiny_test_boom single b1", "[4/4] _tiny_test_boom train b8"]
    assert "ms median, n=3" in lines[0] and "error: RuntimeError: boom" in lines[2]
    rows = _rows(db)
    assert [(r["model"], r["mode"]) for r in rows] == [
        ("_tiny_test_net", "single"), ("_tiny_test_net", "train"),
        ("_tiny_test_boom", "single"), ("_tiny_test_boom", "train")]
    ok = rows[:2]
    assert all(r["status"] == "ok" and r["n"] == 3 for r in ok)
    assert [r["batch"] for r in ok] == [1, 8]  # paper batch sizes by default
    assert all(len(json.loads(r["samples_ms"])) == 3 for r in ok)
    assert all(r["status"] == "error: RuntimeError: boom" for r in rows[2:])
    settings = json.loads(ok[0]["settings"])
    assert settings["run_config"]["min_seconds"] == 0.0 and settings["isolated"] is False
    assert ok[0]["git_rev"] is None or len(ok[0]["git_rev"]) == 40
    dumped = json.loads(js.read_text())
    assert [r["uid"] for r in dumped] == [r["uid"] for r in rows]


def test_cli_subprocess_isolation_and_failures(tiny_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(tiny_dir))
    db = tmp_path / "iso.db"
    rc = main(["bench", "--import", TINY_MODULE, "--models",
               "_tiny_test_net,_tiny_test_oom_gt3,_tiny_test_exit", "--device", "cpu",
               "--modes", "batch", "--batch-size", "4", "--warmup", "1", "--iters", "2",
               "--min-seconds", "0", "--db", str(db)])
    assert rc == 0
    rows = {r["model"]: r for r in _rows(db)}
    assert rows["_tiny_test_net"]["status"] == "ok"
    assert json.loads(rows["_tiny_test_net"]["settings"])["isolated"] is True
    assert rows["_tiny_test_net"]["mem_kind"].startswith("cpu: peak RSS")
    assert rows["_tiny_test_oom_gt3"]["status"] == "oom"
    assert rows["_tiny_test_exit"]["status"].startswith("error: worker exited with code 3")
    assert rows["_tiny_test_exit"]["device_name"]  # environment still recorded


def test_cli_real_model_subprocess(tmp_path):
    from litevid.models import list_models

    real = [n for n in list_models() if not n.startswith("_tiny_test")]
    if not real:
        pytest.skip("no real model registered yet")
    name = "movinet_a0" if "movinet_a0" in real else real[0]
    db = tmp_path / "real.db"
    rc = main(["bench", "--models", name, "--device", "cpu", "--frames", "4", "--size", "64",
               "--warmup", "1", "--iters", "2", "--min-seconds", "0", "--db", str(db)])
    assert rc == 0
    (row,) = _rows(db)
    assert row["status"] == "ok", row["status"]
    assert (row["mode"], row["batch"], row["input_shape"]) == ("single", 1, "3x4x64x64")


def test_cli_bad_input_is_one_line(tiny_dir, tmp_path, capsys):
    assert main(["bench", "--models", "_tiny_test_nett", "--db", str(tmp_path / "x.db")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "did you mean _tiny_test_net" in err
    assert main(["bench", "--models", "_tiny_test_net", "--modes", "fly", "--device", "cpu"]) == 2
    assert "unknown mode" in capsys.readouterr().err
    assert main(["bench", "--models", "_tiny_test_net", "--device", "cpu",
                 "--db", str(tmp_path / "missing" / "x.db")]) == 2


def test_worker_env_sets_glibc_malloc_tuning_unless_the_user_did(monkeypatch):
    import sys

    from litevid.bench.environment import worker_env
    from litevid.devices.host import ALLOCATOR_ENV

    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "123")
    env = worker_env()
    if sys.platform.startswith("linux"):
        assert env["MALLOC_MMAP_THRESHOLD_"] == ALLOCATOR_ENV["MALLOC_MMAP_THRESHOLD_"]
    assert env["MALLOC_TRIM_THRESHOLD_"] == "123"  # the user's choice wins
    record = CPU.environment()["allocator"]
    assert record["MALLOC_TRIM_THRESHOLD_"] == "123" and record["MALLOC_MMAP_THRESHOLD_"] is None
