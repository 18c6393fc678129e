"""``EvalConfig`` and ``run_evaluation``: ``litevid eval`` as a function, its flags generated.

A tiny model (``tests/_litevid_tiny_train.py``) on 16 synthetic clips of 4 frames at 32 px, in the
main process: each evaluation takes well under a second.
"""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from litevid.cli import build_parser, main
from litevid.train.config import PRECISIONS, EvalConfig
from litevid.utils.config import add_arguments, from_args

TINY = "_tiny_train_net"
STUDY = {"name": "smoke", "job": "3f2a9c1b0d4e", "kind": "eval", "study_sha256": "ab" * 32,
         "run": "runs/x", "train_job": "0123456789ab"}


@pytest.fixture(scope="module")
def checkpoint(tiny, tmp_path_factory):
    """A litevid training checkpoint of the tiny model (8 synthetic classes, 4 frames, 32 px),
    written directly: its frames and size are the evaluation's defaults."""
    from litevid import create_model
    from litevid.train.checkpoint import save_checkpoint

    path = tmp_path_factory.mktemp("ckpt") / "best.pt"
    model = create_model(TINY, num_classes=8, frames=4, size=32)
    save_checkpoint(path, {
        "model_name": TINY, "num_classes": 8, "classes": None, "frames": 4, "size": 32,
        "config": {"model": TINY, "dataset": "synthetic", "epochs": 1}, "world_size": 1,
        "device_type": "cpu", "model": model.state_dict(), "model_args": {},
        "state": {"epoch": 1, "best_epoch": 1, "elapsed_s": 2.0, "time_to_best_s": 2.0}})
    return path


def _cfg(checkpoint, tmp_path, **kw) -> EvalConfig:
    return EvalConfig(model=TINY, checkpoint=str(checkpoint), dataset="synthetic", num_clips=16,
                      workers=0, batch_size=8, device="cpu", db=str(tmp_path / "r.db"), **kw)


def test_run_evaluation_returns_the_row_it_stores(checkpoint, tmp_path):
    from litevid.results import ResultStore
    from litevid.train.eval_run import EvalOutcome, run_evaluation

    cfg = _cfg(checkpoint, tmp_path, split="test")
    outcome = run_evaluation(cfg, extra_settings={"study": STUDY})
    assert isinstance(outcome, EvalOutcome)
    assert (outcome.dataset_size, outcome.frames, outcome.size) == (16, 4, 32)  # checkpoint's
    assert outcome.evaluator.evaluated == 16 and outcome.failed == [] and outcome.wall_s > 0
    assert outcome.out == checkpoint.parent / "eval-synthetic"
    assert {p.name for p in outcome.written} == {"predictions.csv", "clip_problems.csv",
                                                 "confusion_label.csv"}
    assert all(p.parent == outcome.out and p.is_file() for p in outcome.written)
    with ResultStore(cfg.db, readonly=True) as store:
        (stored,) = store.rows(table="evaluations")
    mine = outcome.row.to_dict()
    assert {k: stored[k] for k in mine} == mine
    assert (stored["split"], stored["clips"], stored["epochs"]) == ("test", 16, 1)
    settings = stored["settings"]
    assert settings["study"] == STUDY  # extra settings at the top level
    assert settings["eval_args"] == cfg.to_dict()
    assert settings["train_config"]["dataset"] == "synthetic"


def test_extra_settings_may_not_replace_the_evaluations_own(checkpoint, tmp_path):
    from litevid.train.eval_run import run_evaluation

    with pytest.raises(ValueError, match="eval_args"):
        run_evaluation(_cfg(checkpoint, tmp_path), extra_settings={"eval_args": {}})
    assert not (tmp_path / "r.db").exists()


def test_run_evaluation_checks_the_paths_before_any_work(checkpoint, tmp_path):
    from litevid.train.eval_run import run_evaluation

    (tmp_path / "afile").write_text("")
    with pytest.raises(ValueError, match=r"^--out .*afile: exists and is not a directory"):
        run_evaluation(_cfg(checkpoint, tmp_path, out=str(tmp_path / "afile")))
    with pytest.raises(FileNotFoundError, match=r"^--db .*missing/r.db"):
        run_evaluation(dataclasses.replace(_cfg(checkpoint, tmp_path),
                                           db=str(tmp_path / "missing" / "r.db")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@pytest.mark.parametrize("kwargs, match", [
    (dict(batch_size=0), r"^batch_size \(--batch-size\): must be >= 1, got 0$"),
    (dict(workers=-1), r"^workers \(--workers\): must be >= 0"),
    (dict(frames=0), r"^frames \(--frames\): must be >= 1"),
    (dict(num_clips=0), r"^num_clips \(--num-clips\): must be >= 1"),
    (dict(precision="fp8"), r"^precision \(--precision\): must be one of auto, fp32"),
    (dict(on_error="ignore"), r"^on_error \(--on-error\): must be one of skip, raise"),
    (dict(model=None), r"^model: required, got None$"),
    (dict(checkpoint=None), r"^checkpoint \(--checkpoint\): required"),
])
def test_bad_values_raise_naming_the_field(kwargs, match):
    base = dict(model="m", checkpoint="c.pt", dataset="synthetic")
    with pytest.raises(ValueError, match=match):
        EvalConfig(**{**base, **kwargs})


def test_required_fields_have_no_default():
    with pytest.raises(TypeError, match="'model', 'checkpoint', and 'dataset'"):
        EvalConfig()  # type: ignore[call-arg]
    fields = {f.name: f for f in dataclasses.fields(EvalConfig)}
    assert fields["precision"].metadata["choices"] is PRECISIONS  # one tuple, not a copy
    numeric = [f for f in fields.values() if f.type in ("int", "int | None", "float | None")]
    assert len(numeric) == 5 and all(f.metadata["bound"] is not None for f in numeric)


def _eval_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="litevid eval", exit_on_error=False)
    add_arguments(parser, EvalConfig)
    return parser


def test_generated_parser_keeps_model_positional_and_flags_required(capsys):
    parser = _eval_parser()
    args = parser.parse_args(["m", "--checkpoint", "c.pt", "--dataset", "synthetic",
                              "--keep-head", "--batch-size", "2"])
    cfg = from_args(EvalConfig, args)
    assert cfg == EvalConfig(model="m", checkpoint="c.pt", dataset="synthetic", keep_head=True,
                             batch_size=2)
    for argv, missing in ((["--checkpoint", "c.pt", "--dataset", "d"], "model"),
                          (["m", "--dataset", "d"], "--checkpoint"),
                          (["m", "--checkpoint", "c.pt"], "--dataset")):
        with pytest.raises(SystemExit) as exc:
            main(["eval", *argv])
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith("litevid eval: error: the following arguments are required: ")
        assert missing in err
    with pytest.raises(ValueError, match=r"required setting\(s\) missing: checkpoint"):
        from_args(EvalConfig, argparse.Namespace(model="m", dataset="d"))


def test_help_lists_every_field():
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    text = sub.choices["eval"].format_help()
    for f in dataclasses.fields(EvalConfig):
        name = f.name if f.metadata.get("positional") else "--" + f.name.replace("_", "-")
        assert name in text, name
    assert "--keep-head" in text and "{auto,fp32,amp-fp16,amp-bf16}" in text


def test_the_cli_prints_what_run_evaluation_returns(checkpoint, tmp_path, capsys):
    out = tmp_path / "e"
    rc = main(["eval", TINY, "--checkpoint", str(checkpoint), "--dataset", "synthetic",
               "--num-clips", "8", "--workers", "0", "--device", "cpu", "--out", str(out),
               "--db", str(tmp_path / "r.db")])
    assert rc == 0
    text = capsys.readouterr().out
    assert text.startswith(f"{TINY} on synthetic val: 8 of 8 clips evaluated, single view, "
                           "single crop, 4x32px, ")
    assert "  label: top-1 " in text and f"row added to {tmp_path / 'r.db'}" in text
    assert (out / "confusion_label.csv").is_file()
