"""Command-line input checks (issue 23): a number given is validated, naming its flag (zero and
negative numbers are never "the default"), and an unusable output path is one line naming the
flag and the path, before any work and without creating anything.

Every case runs ``litevid.cli.main`` in this process and fails before a model, a dataset or a
video is touched, so the file takes a few seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import sqlite3
import typing
from pathlib import Path

import pytest

from litevid.cli import build_parser, main
from litevid.utils.config import Bound, bounded, int_at_least

EVAL = ["eval", "m", "--checkpoint", "c.pt", "--dataset", "synthetic"]
PREDICT = ["predict", "v.mp4", "--model", "m", "--checkpoint", "c.pt"]
CHECK = ["data", "check", "--format", "k400", "--annotations", "a.csv"]
DATA_BENCH = ["data", "bench", "--video", "v.mp4"]
EXPORT = ["export", "m", "--format", "onnx"]
RECOMMEND = ["recommend", "--device", "cpu", "--mode", "single"]

# (argv before the flag, flag, value, what the message says)
NUMBER_CASES = [
    (["train"], "--epochs", "0", "must be >= 1, got 0"),
    (["train"], "--epochs", "-1", "must be >= 1, got -1"),
    (["train"], "--batch-size", "0", ">= 1"),
    (["train"], "--effective-batch", "-32", ">= 1"),
    (["train"], "--frames", "0", ">= 1"),
    (["train"], "--size", "-4", ">= 1"),
    (["train"], "--lr", "0", "must be > 0, got 0.0"),
    (["train"], "--weight-decay", "-1e-5", ">= 0"),
    (["train"], "--momentum", "1", "must be > 0 and < 1, got 1.0"),
    (["train"], "--plateau-factor", "0", "> 0 and < 1"),
    (["train"], "--plateau-patience", "0", ">= 1"),
    (["train"], "--lr-floor", "-1", ">= 0"),
    (["train"], "--workers", "-1", ">= 0"),
    (["train"], "--seed", "-1", ">= 0"),
    (["train"], "--checkpoint-every", "-1", ">= 0"),
    (["train"], "--num-clips", "0", ">= 1"),
    (["train"], "--max-steps", "0", ">= 1"),
    (["train"], "--log-every", "0", ">= 1"),
    (["train"], "--lr", "nan", "finite"),
    (["bench"], "--frames", "0", ">= 1"),
    (["bench"], "--size", "0", ">= 1"),
    (["bench"], "--batch-size", "-8", ">= 1"),
    (["bench"], "--warmup", "-1", ">= 0"),
    (["bench"], "--iters", "0", ">= 1"),
    (["bench"], "--max-iters", "0", ">= 1"),
    (["bench"], "--min-seconds", "-1", ">= 0"),
    (["bench"], "--min-seconds", "inf", "finite"),
    (["bench"], "--memory-iters", "0", ">= 1"),
    (["bench"], "--threads", "0", ">= 1"),
    (["bench"], "--seed", str(2**63), "<= "),
    (["bench"], "--frames", "x", "invalid int value: 'x'"),
    (EVAL, "--frames", "0", ">= 1"),
    (EVAL, "--size", "0", ">= 1"),
    (EVAL, "--batch-size", "0", ">= 1"),
    (EVAL, "--workers", "-1", ">= 0"),
    (EVAL, "--num-clips", "0", ">= 1"),
    (PREDICT, "--frames", "0", ">= 1"),
    (PREDICT, "--size", "0", ">= 1"),
    (PREDICT, "--size", "-224", ">= 1"),
    (PREDICT, "--top", "0", ">= 1"),
    (PREDICT, "--num-classes", "0", ">= 1"),
    (CHECK, "--limit", "-1", ">= 1"),
    (CHECK, "--limit", "0", ">= 1"),
    (CHECK, "--workers", "0", ">= 1"),
    (CHECK, "--fps", "0", "> 0"),
    (CHECK, "--min-frames", "0", ">= 1"),
    (CHECK, "--show-bad", "-1", ">= 0"),
    (DATA_BENCH, "--frames", "0", ">= 1"),
    (DATA_BENCH, "--size", "-1", ">= 1"),
    (DATA_BENCH, "--short-side", "0", ">= 1"),
    (DATA_BENCH, "--clips", "0", ">= 1"),
    (DATA_BENCH, "--warmup", "-1", ">= 0"),
    (DATA_BENCH, "--seed", "-1", ">= 0"),
    (EXPORT, "--frames", "-1", ">= 1"),
    (EXPORT, "--size", "0", ">= 1"),
    (EXPORT, "--batch-size", "0", ">= 1"),
    (EXPORT, "--threads", "0", ">= 1"),
    (EXPORT, "--seed", "-1", ">= 0"),
    (["results", "profile"], "--top", "0", ">= 1"),
    (RECOMMEND, "--max-latency-ms", "0", "> 0"),
    (RECOMMEND, "--max-memory-gb", "-1", "> 0"),
]


def _tree(root: Path) -> dict[str, tuple[bool, int, int]]:
    """Every path under ``root`` with (is a folder, size, mtime): 'nothing was written'."""
    return {str(p.relative_to(root)): (p.is_dir(), p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*")}


def _one_error_line(capsys: pytest.CaptureFixture[str], command: str) -> str:
    err = capsys.readouterr().err.strip()
    lines = err.splitlines()
    assert lines and lines[-1].startswith(f"litevid {command}: error: "), err
    assert "Traceback" not in err and ".tmp" not in err, err
    return lines[-1]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder (default outputs such as litevid-results.db would land here)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("prefix,flag,value,says", NUMBER_CASES,
                         ids=[f"{c[0][0]}-{' '.join(c[0][1:2])}{c[1]}={c[2]}"
                              for c in NUMBER_CASES])
def test_a_number_out_of_range_is_an_error_naming_the_flag(prefix, flag, value, says, workdir,
                                                           capsys):
    command = " ".join(prefix[:2]) if prefix[0] in ("data", "results") else prefix[0]
    with pytest.raises(SystemExit) as exc:
        main([*prefix, f"{flag}={value}"])  # = : a negative value is not a flag
    assert exc.value.code == 2
    line = _one_error_line(capsys, command)
    assert f"argument {flag}: " in line and says in line, line
    assert _tree(workdir) == {}


def test_every_numeric_flag_of_every_command_is_bounded():
    """No ``type=int`` / ``type=float`` left: each numeric flag goes through ``bounded``."""
    unbounded = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")
            elif action.type in (int, float):
                unbounded.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), "litevid")
    assert unbounded == []


@pytest.mark.parametrize("config", ["litevid.bench.config:BenchConfig",
                                    "litevid.train.config:TrainConfig"])
def test_every_numeric_config_field_declares_a_bound(config):
    import importlib

    module, name = config.split(":")
    cls = getattr(importlib.import_module(module), name)
    hints = typing.get_type_hints(cls)
    numeric = [f for f in dataclasses.fields(cls)
               if {int, float} & {hints[f.name], *typing.get_args(hints[f.name])}]
    assert numeric
    assert [f.name for f in numeric if f.metadata.get("bound") is None] == []


@pytest.mark.parametrize("config,kwargs", [
    ("train", dict(epochs=0)), ("train", dict(lr=-1e-4)), ("train", dict(momentum=1.0)),
    ("bench", dict(warmup=-1)), ("bench", dict(min_seconds=float("nan"))),
])
def test_configs_built_in_python_check_the_same_bounds(config, kwargs):
    from litevid.bench.config import BenchConfig
    from litevid.train.config import TrainConfig

    (field,) = kwargs
    with pytest.raises(ValueError, match=rf"^{field} \(--{field.replace('_', '-')}\): must be"):
        {"train": TrainConfig, "bench": BenchConfig}[config](**kwargs)


def test_dataclasses_replace_checks_too():
    from litevid.bench.config import BenchConfig

    with pytest.raises(ValueError, match="iters"):
        dataclasses.replace(BenchConfig(), iters=0)


def test_bounded_type():
    assert bounded(float, gt=0)("1e-3") == 1e-3
    assert int_at_least(0)("0") == 0
    with pytest.raises(argparse.ArgumentTypeError, match="must be >= 1, got 0"):
        int_at_least(1)("0")
    assert Bound(gt=0, lt=1).describe() == "> 0 and < 1"
    with pytest.raises(TypeError):
        Bound(ge=0, gt=0)


def test_bench_loader_checks_its_numbers():
    from litevid.data.bench import bench_loader

    for kwargs, name in ((dict(frames=0), "frames"), (dict(size=-1), "size"),
                         (dict(warmup=-1), "warmup"), (dict(clips=0), "clips")):
        with pytest.raises(ValueError, match=rf"^{name} must be"):
            bench_loader(["missing.mp4"], **kwargs)


# ---- output paths ------------------------------------------------------------------------------

def _junk(path: Path) -> Path:
    path.write_text("not a database\n")
    return path


def _sqlite(path: Path, *sql: str) -> Path:
    conn = sqlite3.connect(path)
    for s in sql:
        conn.execute(s)
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def files(workdir: Path) -> dict[str, Path]:
    """A file, a folder and databases the cases point at (they exist before the snapshot)."""
    (workdir / "adir").mkdir()
    return {
        "file": _junk(workdir / "afile"),
        "dir": workdir / "adir",
        "junk": _junk(workdir / "junk.db"),
        "foreign": _sqlite(workdir / "foreign.db", "CREATE TABLE t (x)"),
        "newer": _sqlite(workdir / "newer.db", "CREATE TABLE measurements (x)",
                         "PRAGMA user_version = 99"),
    }


MISSING = "missing/x"  # a path in a folder that does not exist

# (command name, argv, the path the message names, what it says); {name} is a path of ``files``
# or under the working folder. The models and inputs do not exist either: without the path
# check each command would fail later with another message (or after its work).
PATH_CASES = [
    ("bench", ["bench", "--models", "nope", "--db", f"{MISSING}.db"], f"--db {MISSING}.db",
     "directory missing does not exist"),
    ("bench", ["bench", "--models", "nope", "--db", "{dir}"], "--db {dir}", "is a directory"),
    ("bench", ["bench", "--models", "nope", "--db", "{junk}"], "--db {junk}",
     "not a litevid results database"),
    ("bench", ["bench", "--models", "nope", "--json", "{dir}"], "--json {dir}",
     "is a directory"),
    ("bench", ["bench", "--models", "nope", "--json", "{file}/x.json"], "--json {file}/x.json",
     "is not a directory"),
    ("train", ["train", "--model", "nope", "--db", f"{MISSING}.db"], f"--db {MISSING}.db",
     "does not exist"),
    ("train", ["train", "--model", "nope", "--db", "{foreign}"], "--db {foreign}",
     "not a litevid results database"),
    ("train", ["train", "--model", "nope", "--out", "{file}"], "--out {file}",
     "exists and is not a directory"),
    ("train", ["train", "--model", "nope", "--out", "{file}/run"], "--out {file}/run",
     "cannot create the folder"),
    ("eval", [*EVAL, "--db", f"{MISSING}.db"], f"--db {MISSING}.db", "does not exist"),
    ("eval", [*EVAL, "--db", "{newer}"], "--db {newer}", "schema version 99"),
    ("eval", [*EVAL, "--out", "{file}"], "--out {file}", "not a directory"),
    ("predict", [*PREDICT, "--db", f"{MISSING}.db"], f"--db {MISSING}.db", "does not exist"),
    ("predict", [*PREDICT, "--db", "{dir}"], "--db {dir}", "is a directory"),
    ("data bench", [*DATA_BENCH, "--db", f"{MISSING}.db"], f"--db {MISSING}.db",
     "does not exist"),
    ("data bench", [*DATA_BENCH, "--json", f"{MISSING}.json"], f"--json {MISSING}.json",
     "does not exist"),
    ("data check", [*CHECK, "--json", "{dir}"], "--json {dir}", "is a directory"),
    ("export", [*EXPORT, "--out", "{file}"], "--out {file}", "not a directory"),
    ("report", ["report", "--db", "none.db", "--out", "{file}"], "--out {file}",
     "not a directory"),
    ("results export", ["results", "export", "--db", "none.db", "--format", "csv", "--out",
                        f"{MISSING}.csv"], f"--out {MISSING}.csv", "does not exist"),
    ("results export", ["results", "export", "--db", "none.db", "--format", "csv", "--out",
                        "{dir}"], "--out {dir}", "is a directory"),
    # a failed merge does not create its target
    ("results merge", ["results", "merge", "none.db", "--db", "new.db"], "none.db",
     "no such results database"),
    ("results merge", ["results", "merge", "{junk}", "--db", "new.db"], "{junk}",
     "not a litevid results database"),
    ("results merge", ["results", "merge", "{foreign}", "--db", "new.db"], "{foreign}",
     "not a litevid results database"),
    ("results merge", ["results", "merge", "{newer}", "--db", "new.db"], "{newer}",
     "schema version 99"),
    ("results merge", ["results", "merge", "{dir}", "--db", "new.db"], "{dir}",
     "no such results database"),
]


@pytest.mark.parametrize("command,argv,names,says", PATH_CASES,
                         ids=[f"{c[0]} {c[2].split()[0] if c[2].startswith('--') else 'OTHER'}"
                              f": {c[3]}" for c in PATH_CASES])
def test_an_unusable_output_path_is_one_line_before_any_work(command, argv, names, says, files,
                                                             workdir, capsys):
    def fill(text: str) -> str:
        return text.format(**{k: str(v.relative_to(workdir)) for k, v in files.items()})

    before = _tree(workdir)
    assert main([fill(a) for a in argv]) == 2
    line = _one_error_line(capsys, command.split()[0])  # main() names the top verb
    assert fill(names) in line and says in line, line
    assert _tree(workdir) == before  # nothing created, nothing changed


def test_merge_still_merges(workdir, capsys):
    from litevid.results.store import ResultStore

    src = _sqlite(workdir / "src.db")  # an empty SQLite file becomes an empty results store
    with ResultStore(src):
        pass
    assert main(["results", "merge", str(src), "--db", "new.db"]) == 0
    assert (workdir / "new.db").is_file() and "0 row(s) added" in capsys.readouterr().out


def test_a_write_into_a_folder_names_the_users_path(workdir):
    """``atomic_open``: never the temporary file's name in the message."""
    from litevid.utils.io import write_json

    (workdir / "out").mkdir()
    with pytest.raises(IsADirectoryError) as exc:
        write_json(workdir / "out", {})
    assert exc.value.filename == str(workdir / "out") and ".tmp" not in str(exc.value)
    assert [p.name for p in workdir.rglob("*")] == ["out"]


def test_unwritable_paths_are_refused(workdir, monkeypatch):
    """Permissions, through ``os.access`` (the tests may run as root, who may write anywhere)."""
    import os

    from litevid.utils import paths

    (workdir / "ro").mkdir()
    (workdir / "f.db").write_text("")
    real = os.access
    monkeypatch.setattr(paths.os, "access", lambda p, mode: (
        False if Path(p).name in ("ro", "f.db") else real(p, mode)))
    with pytest.raises(ValueError, match=r"^--json ro/x.json: directory ro is not writable$"):
        paths.check_writable_file("ro/x.json", "--json")
    with pytest.raises(ValueError, match=r"^--db f.db: is not writable$"):
        paths.check_writable_file("f.db", "--db")
    with pytest.raises(ValueError, match=r"^--out ro/a/b: cannot create the folder: "
                                         r"directory .*ro is not writable$"):
        paths.check_writable_dir("ro/a/b", "--out")
    assert paths.check_writable_dir("new/run", "--out") == Path("new/run")
    assert not (workdir / "new").exists()  # checked, not created


def test_an_os_error_is_one_line_naming_its_path(workdir, monkeypatch, capsys):
    """``main``: a ``PermissionError`` from deep inside a command is one line, not a traceback."""
    import litevid.report.cli as report_cli

    def denied(args: argparse.Namespace) -> int:
        raise PermissionError(13, "Permission denied", "report/figures/fig2.png")

    monkeypatch.setattr(report_cli, "_cmd_report", denied)
    assert main(["report"]) == 2
    assert _one_error_line(capsys, "report") == \
        "litevid report: error: report/figures/fig2.png: Permission denied"
