"""``litevid study``: the study file and its refusals, content-hashed jobs, a local run at two
jobs at once, kill and resume without repeating finished jobs (counted from ``study.jsonl``),
failures recorded and retried only when asked, ``--force``, the SLURM path through submitit's
local executor, and the report built from the study's measured accuracy.

Studies here use the tiny registered models of ``tests/_litevid_tiny_train.py`` (imported by the
study file, in every worker), so a whole study runs in seconds on 2 cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from litevid.cli import main
from litevid.study import StudyDir, plan_study, read_study

TESTS = Path(__file__).resolve().parent

TINY_STUDY = """\
[study]
name = "tiny"
models = ["{model}"]
modes = {modes}
devices = ["cpu"]
train_device = "cpu"
import = ["_litevid_tiny_train"]

[recipe]
epochs = {epochs}
batch_size = 4
effective_batch = 4
workers = 0

[bench]
warmup = 1
iters = 3
min_seconds = 0.0

[eval]
workers = 0

[datasets.synthetic]
num_clips = 16
eval_num_clips = 8
"""


@pytest.fixture
def worker_path(tiny, monkeypatch):
    """Workers import the tiny models too: put tests/ on their path."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])]))


def write_study(tmp_path: Path, *, model: str = "_tiny_train_net", modes: str = '["single"]',
                epochs: int = 2, extra: str = "") -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_STUDY.format(model=model, modes=modes, epochs=epochs) + extra)
    return path


def starts(study: Path) -> dict[str, int]:
    """How many times each job was started (``start`` events of ``study.jsonl``)."""
    out: dict[str, int] = {}
    for line in (study / "study.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["event"] == "start":
            out[rec["job"]] = out.get(rec["job"], 0) + 1
    return out


# ---- the study file ------------------------------------------------------------------------

def test_plan_hashes_follow_the_configuration(tiny, tmp_path):
    spec = read_study(write_study(tmp_path))
    plan = plan_study(spec)
    kinds = [j.kind for j in plan.jobs]
    assert kinds == ["bench", "train", "eval"] and len(spec.sha256) == 64
    bench, train, ev = plan.jobs
    assert ev.after == train.id and train.config["epochs"] == 2
    assert train.config["frames"] == 8 and train.config["size"] == 64  # synthetic's defaults
    assert plan_study(read_study(write_study(tmp_path))).by_id.keys() == plan.by_id.keys()
    # a result-changing setting makes new training and evaluation jobs, not a new benchmark
    other = plan_study(read_study(write_study(tmp_path, epochs=3)))
    assert other.jobs[0].id == bench.id
    assert other.jobs[1].id != train.id and other.jobs[2].id != ev.id
    # how fast it loads is not part of the result: same jobs
    same = plan_study(read_study(write_study(tmp_path), sets=["recipe.workers=1"]))
    assert [j.id for j in same.jobs] == [j.id for j in plan.jobs]
    assert read_study(write_study(tmp_path), sets=["recipe.workers=1"]).sha256 != spec.sha256
    assert plan.tasks() == [[bench.id], [train.id, ev.id]]
    # TensorBoard scalars per training when asked; logging is not part of the result
    tb = plan_study(read_study(write_study(tmp_path), sets=["study.tensorboard=true"]))
    assert tb.jobs[1].config["tensorboard"] is True and tb.jobs[1].id == train.id


def test_an_annotation_file_edit_is_a_new_job(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    labels = tmp_path / "classes.txt"
    labels.write_text("a\nb\n")
    train, val = tmp_path / "train.txt", tmp_path / "val.txt"
    train.write_text("x.mp4 0\n")
    val.write_text("y.mp4 1\n")
    study = tmp_path / "s.toml"
    study.write_text('[study]\nmodels = ["x3d_xs"]\ntrain_device = "cpu"\n[datasets.list]\n'
                     'annotations = "train.txt"\nval_annotations = "val.txt"\n'
                     'labels = "classes.txt"\nroot = "videos"\n')
    first = plan_study(read_study(study))
    assert first.jobs[0].config["annotations"] == str(train)  # relative to the study file
    val.write_text("y.mp4 0\n")
    second = plan_study(read_study(study))
    assert {j.id for j in first.jobs}.isdisjoint({j.id for j in second.jobs})


@pytest.mark.parametrize("body, needle", [
    ('[study]\nmodels = ["x3d_xz"]\nmodes = ["single"]\ndevices = ["cpu"]\n',
     "[study] models: unknown model 'x3d_xz'; did you mean x3d_xs"),
    ('[study]\nmodels = ["x3d_xs"]\n[datasets.kinetics]\n', "[datasets.kinetics]: unknown dataset"),
    ('[study]\nmodels = ["x3d_xs"]\nmodes = ["fast"]\ndevices = ["cpu"]\n',
     "[study] modes: unknown mode 'fast'"),
    ('[study]\nmodels = ["x3d_xs"]\nepochs = 3\n', "[study] epochs: unknown key"),
    ('[stduy]\nmodels = ["x3d_xs"]\n', "[stduy]: unknown section"),
    ('[study]\nmodels = ["x3d_xs"]\n[recipe]\nepochs = 0\n[datasets.synthetic]\n',
     "[recipe]: epochs (--epochs): must be >= 1, got 0"),
    ('[study]\nmodels = ["x3d_xs"]\n[recipe]\nmodel = "tsm_r50"\n[datasets.synthetic]\n',
     "[recipe] model: unknown key"),
    ('[study]\nmodels = ["x3d_xs"]\n[datasets.ssv2]\nannotations = "nope.json"\n',
     "[datasets.ssv2] annotations: "),
    ('[study]\nmodels = ["x3d_xs"]\n[datasets.ssv2]\nannotations = "s.toml"\n'
     'val_annotations = "s.toml"\nroot = "no-such-folder"\n', "[datasets.ssv2] root: "),
    ('[study]\nmodels = ["x3d_xs"]\n[datasets.ssv2]\nannotations = "s.toml"\n',
     "[datasets.ssv2] val_annotations: missing"),
    ('[study]\nmodels = ["x3d_xs"]\n[datasets.synthetic]\nroot = "."\n',
     "synthetic is generated, it reads no files"),
    ('[study]\nmodels = ["x3d_xs"]\nmodes = ["single"]\ndevices = ["tpu"]\n',
     "[study] devices: 'tpu': choose cpu, cuda, cuda:N or mps"),
    ('[study]\nmodels = ["x3d_xs"]\nmodes = ["single"]\ndevices = ["cpu"]\n[bench]\nwarmup = -1\n',
     "[bench]: warmup (--warmup): must be >= 0"),
    ('[study]\nmodels = ["x3d_xs"]\n', "nothing to run"),
    ('[study\nmodels = 1\n', "not a valid TOML file"),
])
def test_a_bad_study_file_is_one_error_naming_the_file_and_entry(tmp_path, capsys, body,
                                                                 needle):
    study = tmp_path / "s.toml"
    study.write_text(body)
    for action in ("plan", "run"):
        assert main(["study", action, str(study), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(study) in err and needle in err, err
    assert not (tmp_path / "out").exists()  # nothing was run or written


def test_a_device_this_machine_lacks_is_refused_unless_the_study_runs_on_slurm(tmp_path,
                                                                              capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: a cuda device exists")
    study = tmp_path / "s.toml"
    study.write_text('[study]\nmodels = ["x3d_xs"]\nmodes = ["single"]\ndevices = ["cuda"]\n')
    assert main(["study", "plan", str(study)]) == 2
    assert "[study] devices: 'cuda' is not available here" in capsys.readouterr().err
    assert main(["study", "plan", str(study), "--executor", "slurm"]) == 0  # checked on nodes
    assert "1 benchmarks" in capsys.readouterr().out


def test_flags_make_a_study_without_a_file(tmp_path, capsys):
    assert main(["study", "plan", "--models", "x3d_xs,movinet_a0", "--datasets", "synthetic",
                 "--modes", "single", "--devices", "cpu", "--epochs", "2", "--out",
                 str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "6 jobs (2 benchmarks, 2 trainings, 2 evaluations)" in out and "epochs=2" in out
    assert not (tmp_path / "s").exists()  # plan runs and writes nothing


def test_the_smoke_preset_plans_every_model_and_prints_its_settings(capsys):
    from litevid.models import list_models

    assert main(["study", "plan", "--preset", "smoke"]) == 0
    out = capsys.readouterr().out
    n = len(list_models())  # every registered model (with the tiny ones, once imported)
    assert f"{3 * n} jobs ({n} benchmarks, {n} trainings, {n} evaluations)" in out
    assert "clips 8 frames x 64 px" in out and "epochs=3" in out


# ---- running -------------------------------------------------------------------------------

def test_local_run_at_two_jobs_then_rerun_runs_nothing(worker_path, tmp_path, capsys):
    out = tmp_path / "study"
    study_file = write_study(tmp_path)
    assert main(["study", "run", str(study_file), "--out", str(out), "--jobs", "2"]) == 0
    text = capsys.readouterr().out
    assert "3 job(s) to run" in text and "[3/3] eval _tiny_train_net synthetic: done" in text
    study = StudyDir(out)
    plan = study.read_plan()
    assert [study.state(j).state for j in plan.jobs] == ["done"] * 3
    assert starts(out) == {j.id: 1 for j in plan.jobs}
    bench, train, ev = plan.jobs
    # the evaluation row: the training's best checkpoint on the test split, with provenance
    from litevid.results import ResultStore

    with ResultStore(out / "results.db", readonly=True) as store:
        (row,) = store.rows(table="evaluations")
        (meas,) = store.rows()
    assert row["split"] == "test" and row["clips"] == 8
    assert row["settings"]["study"]["job"] == ev.id
    assert row["settings"]["study"]["train_job"] == train.id
    assert row["checkpoint"] == str(study.run_dir(train) / "best.pt")
    assert meas["settings"]["study"]["job"] == bench.id and meas["mode"] == "single"
    assert study.result(ev)["top1"] == row["top1"]
    # the report's Table 4 is this measured accuracy
    table4 = (out / "report" / "tables" / "table4_synthetic.csv").read_text()
    assert f"{100 * row['top1']:.1f}" in table4
    caption = (out / "report" / "tables" / "table4_synthetic.md").read_text()
    assert "8 clips evaluated" in caption and "95 % interval of a top-1" in caption
    assert "chance level 12.5 % (1 of 8 classes)" in caption
    # a second run finds everything done and starts nothing
    assert main(["study", "run", str(study_file), "--out", str(out), "--no-report"]) == 0
    assert "0 job(s) to run, 3 done before" in capsys.readouterr().out
    assert starts(out) == {j.id: 1 for j in plan.jobs}
    assert main(["study", "status", str(out)]) == 0
    assert "3 done, 0 running, 0 failed, 0 pending of 3 jobs" in capsys.readouterr().out


def test_a_killed_study_continues_without_repeating_finished_jobs(worker_path, tmp_path):
    """SIGKILL the whole study while its training runs (after its first epoch's checkpoint),
    run it again: the benchmark is not run again, the training resumes from last.pt."""
    out = tmp_path / "study"
    study_file = write_study(tmp_path, model="_tiny_train_slow", epochs=3)
    cmd = [sys.executable, "-m", "litevid", "study", "run", str(study_file), "--out", str(out),
           "--no-report"]
    env = {**os.environ, "LITEVID_TEST_SLEEP": "0.15"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    last = None
    while time.monotonic() < deadline and proc.poll() is None:
        runs = list((out / "jobs").glob("*/run/last.pt")) if (out / "jobs").exists() else []
        if runs:
            last = runs[0]
            break
        time.sleep(0.05)
    assert last is not None, proc.stderr.read().decode() if proc.poll() is not None else "slow"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    study = StudyDir(out)
    plan = study.read_plan()
    bench, train, ev = plan.jobs
    t0 = time.monotonic()  # the killed worker's lock goes with it, once the OS has ended it
    while study.is_locked(train) and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    states = {j.kind: study.state(j) for j in plan.jobs}
    assert states["bench"].state == "done"
    assert states["train"].state == "pending" and "resumes from its last.pt" in \
        states["train"].detail
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 job(s) to run, 1 done before" in done.stdout
    assert starts(out) == {bench.id: 1, train.id: 2, ev.id: 1}
    assert study.result(train)["resumed"] is True
    log = [json.loads(x) for x in (study.run_dir(train) / "log.jsonl").read_text().splitlines()]
    assert sum(r.get("event") == "resumed" for r in log) == 1
    assert [r["epoch"] for r in log if r.get("event") == "epoch"] == [1, 2, 3]


def test_a_failed_job_is_recorded_and_retried_only_when_asked(worker_path, tmp_path, capsys,
                                                              monkeypatch):
    monkeypatch.setenv("LITEVID_TEST_NAN_AFTER", "1")
    out = tmp_path / "study"
    study_file = write_study(tmp_path, model="_tiny_train_nan", modes="[]")
    args = ["study", "run", str(study_file), "--out", str(out), "--no-report"]
    assert main(args) == 1
    text = capsys.readouterr().out
    assert "train _tiny_train_nan synthetic: FAILED: NonFiniteLoss: non-finite loss" in text
    assert "eval _tiny_train_nan synthetic: skipped: its training did not finish" in text
    study = StudyDir(out)
    train, ev = study.read_plan().jobs
    assert study.state(train).state == "failed" and study.state(ev).state == "pending"
    assert main(args) == 1  # not retried
    text = capsys.readouterr().out
    assert "1 failed before (not retried: --retry-failed)" in text and "non-finite" in text
    assert starts(out) == {train.id: 1}
    assert main([*args, "--retry-failed"]) == 1
    capsys.readouterr()
    assert starts(out) == {train.id: 2}
    assert (study.job_dir(train) / "failed-1.json").is_file()  # the first attempt's record
    assert main(["study", "status", str(out), "--state", "failed"]) == 1
    assert "1 failed, 1 pending of 2 jobs" in capsys.readouterr().out


def test_force_runs_a_finished_job_again_and_keeps_the_previous_result(worker_path, tmp_path,
                                                                       capsys):
    out = tmp_path / "study"
    study_file = tmp_path / "bench.toml"
    study_file.write_text('[study]\nmodels = ["_tiny_train_net"]\nmodes = ["single"]\n'
                          'devices = ["cpu"]\nimport = ["_litevid_tiny_train"]\n'
                          '[bench]\nwarmup = 0\niters = 2\nmin_seconds = 0.0\n')
    args = ["study", "run", str(study_file), "--out", str(out), "--no-report"]
    assert main(args) == 0
    assert main([*args, "--force"]) == 0
    capsys.readouterr()
    study = StudyDir(out)
    (bench,) = study.read_plan().jobs
    assert starts(out) == {bench.id: 2}
    first = json.loads((study.job_dir(bench) / "result-1.json").read_text())
    assert first["rows"] != study.result(bench)["rows"]  # a new measurement, the old one kept


def test_clearing_a_result_keeps_the_run_folder_renamed(tmp_path):
    from litevid.study.plan import StudyJob

    study = StudyDir(tmp_path)
    job = StudyJob(id="t", hash="t", kind="train", model="m", dataset="d")
    for n in range(2):
        study.run_dir(job).mkdir(parents=True)
        (study.run_dir(job) / "best.pt").write_text(str(n))
        study.mark_done(job, {"summary": str(n)})
        study.clear_result(job)
    d = study.job_dir(job)
    assert (d / "run-1" / "best.pt").read_text() == "0" and (d / "run-2" / "best.pt").read_text() == "1"
    assert json.loads((d / "result-2.json").read_text())["summary"] == "1"
    assert study.state(job).state == "pending"


def test_the_slurm_path_through_submitits_local_executor(worker_path, tmp_path, capsys):
    pytest.importorskip("submitit")
    out = tmp_path / "study"
    assert main(["study", "run", str(write_study(tmp_path, epochs=1)), "--out", str(out),
                 "--executor", "submitit-local", "--no-report"]) == 0
    text = capsys.readouterr().out
    assert "submitted 2 task(s)" in text
    study = StudyDir(out)
    plan = study.read_plan()
    assert [study.state(j).state for j in plan.jobs] == ["done"] * 3
    events = [json.loads(x) for x in (out / "study.jsonl").read_text().splitlines()]
    chains = [e["chain"] for e in events if e["event"] == "submitted"]
    assert sorted(chains) == sorted(plan.tasks())
    assert starts(out) == {j.id: 1 for j in plan.jobs}
    assert list((out / "slurm").glob("*/*_log.out"))  # submitit's logs are kept


def test_local_executor_runs_a_cpu_benchmark_alone(tmp_path, monkeypatch):
    """Scheduling only (workers faked): two CPU slots, but nothing runs beside a CPU benchmark,
    and an evaluation waits for its training."""
    from litevid.study import executors
    from litevid.study.plan import Plan, StudyJob

    jobs = [StudyJob(id="b1", hash="b1", kind="bench", model="m", mode="single", exclusive=True),
            StudyJob(id="t1", hash="t1", kind="train", model="m", dataset="d"),
            StudyJob(id="t2", hash="t2", kind="train", model="n", dataset="d"),
            StudyJob(id="e1", hash="e1", kind="eval", model="m", dataset="d", after="t1")]
    study = StudyDir(tmp_path)
    study.write_plan(Plan(name="x", study_sha256="0", source="-", jobs=jobs), "")
    log: list[tuple[str, set[str]]] = []
    running: set[str] = set()

    class Proc:
        def __init__(self, job):
            self.job, self.polls = job, 0

        def poll(self):
            self.polls += 1
            if self.polls < 3:
                return None
            running.discard(self.job.id)
            study.mark_done(self.job, {"summary": "ok"})
            return 0

    def fake_launch(study_, job, env):
        log.append((job.id, set(running)))
        running.add(job.id)
        return Proc(job), tmp_path / "log.txt"

    monkeypatch.setattr(executors, "launch", fake_launch)
    monkeypatch.setattr(executors, "POLL_S", 0.0)
    counts = executors.LocalExecutor(study, jobs=2).run(list(jobs))
    assert counts == {"done": 4, "failed": 0, "skipped": 0}
    started = dict(log)
    assert started["b1"] == set()  # alone
    assert started["t2"] == {"t1"} and "b1" not in started["t1"]  # two CPU jobs at once
    assert [j for j, _ in log].index("e1") > [j for j, _ in log].index("t1")


def test_a_training_on_several_gpus_runs_under_torchrun(tmp_path):
    from litevid.study.jobs import torchrun_command
    from litevid.study.plan import StudyJob

    job = StudyJob(id="abc", hash="abc", kind="train", model="m", dataset="d", gpus=4)
    cmd = torchrun_command(StudyDir(tmp_path), job)
    assert cmd[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4"]
    assert cmd[-4:] == ["litevid.study.worker", str(tmp_path), "abc", "--ddp-rank"]


def test_the_readme_study_file_for_ssv2_and_ek100_plans_on_the_real_annotation_files(
        tmp_path, capsys):
    """examples/study_ssv2_ek100.toml with its paths pointed at ../shared/data (validation files
    for both splits): every model in three modes and on two datasets."""
    data = TESTS.parents[1] / "shared" / "data" / "annotations"
    if not data.is_dir():
        pytest.skip("../shared/data (real annotation files) is absent")
    ssv2, ek = data / "ssv2", data / "ek100"
    sets = [f"datasets.ssv2.annotations={json.dumps(str(ssv2 / 'something-something-v2-validation.json'))}",
            f"datasets.ssv2.val_annotations={json.dumps(str(ssv2 / 'something-something-v2-validation.json'))}",
            f"datasets.ssv2.labels={json.dumps(str(ssv2 / 'something-something-v2-labels.json'))}",
            f"datasets.ssv2.root={json.dumps(str(tmp_path))}",
            f"datasets.ek100.annotations={json.dumps(str(ek / 'EPIC_100_validation.csv'))}",
            f"datasets.ek100.val_annotations={json.dumps(str(ek / 'EPIC_100_validation.csv'))}",
            f"datasets.ek100.labels={json.dumps(str(ek))}",
            f"datasets.ek100.root={json.dumps(str(tmp_path))}"]
    example = TESTS.parent / "examples" / "study_ssv2_ek100.toml"
    args = ["study", "plan", str(example), "--executor", "slurm", "--out", str(tmp_path / "s")]
    for item in sets:
        args += ["--set", item]
    from litevid.models import list_models

    n = len(list_models())
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"{7 * n} jobs ({3 * n} benchmarks, {2 * n} trainings, {2 * n} evaluations)" in out
    spec = read_study(example, sets=sets, check_devices=False)
    train = next(j for j in plan_study(spec).jobs if j.kind == "train" and j.dataset == "ek100")
    assert train.config["epochs"] == 35 and train.config["frames"] == 16
    assert train.files["annotations"] is not None  # the annotation file's sha256 is in the hash
