"""``export_model``: one model to one format, parity-checked, written atomically with a sidecar.

The order of work: check the format's packages and the output folder -> build the model (from a
``litevid train`` checkpoint, a plain state dict, or random init with a warning) -> wrap it with
flat outputs (``wrappers``) -> eager reference outputs on a seeded random clip -> export to a
temporary name beside the target -> run the artefact with its runtime on the same clip and
compare (a failure removes the artefact and raises) -> JSON sidecar -> commit.

Artefact: ``<out>/<model>_<T>x<S>[_b<batch>][_fp16][_stream]<suffix>``; sidecar: the same name
+ ``.json``.

An export is complete or absent. Artefact and sidecar are written into one temporary folder
beside the target (``utils.tempfiles``: a killed export's folder is removed by the next one); the
sidecar carries the artefact's sha256 and size. The commit removes the previous sidecar, renames
the artefact into place, then the sidecar: the sidecar's presence marks a committed pair.
``load_exported`` / ``verify_exported`` refuse an artefact whose sidecar is missing or whose hash
or size disagrees with it (an export killed between the renames, a file changed afterwards).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn as nn

from ..devices import get_backend
from ..utils.hashing import file_sha256
from .formats import ExportError, Format, get_format
from .wrappers import ClipModel, StreamStep, output_names

__all__ = ["ExportResult", "PRECISIONS", "Parity", "check_parity", "export_model",
           "load_exported", "sidecar_path", "verify_exported"]

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16")
STREAM_STEPS = 4  # frames fed one at a time in the stream parity check


@dataclass
class Parity:
    """Exported vs eager outputs on the same input.

    ``max_rel`` is ``max |exported - eager| / max |eager|`` over all outputs (scale-free, so a
    tolerance means the same for logits of any size); ``status`` is ``ok``, ``failed`` or
    ``not run (<why>)``.
    """

    status: str
    max_abs: float | None = None
    max_rel: float | None = None
    rtol: float | None = None
    steps: int | None = None  # stream: frames compared one by one

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def describe(self) -> str:
        if self.max_rel is None:
            return self.status
        return (f"{self.status}: max abs {self.max_abs:.2e}, rel {self.max_rel:.2e} "
                f"(tol {self.rtol:g})")


def check_parity(reference: Sequence[torch.Tensor], got: Sequence[torch.Tensor],
                 rtol: float) -> Parity:
    """Compare outputs (same count and shapes) with the relative tolerance ``rtol``."""
    if len(reference) != len(got):
        return Parity("failed: output count differs", rtol=rtol)
    max_abs, scale = 0.0, 0.0
    for ref, out in zip(reference, got):
        out = torch.as_tensor(out).float().reshape(ref.shape) if out.numel() == ref.numel() else out
        if tuple(out.shape) != tuple(ref.shape):
            return Parity(f"failed: output shape {tuple(out.shape)} != {tuple(ref.shape)}",
                          rtol=rtol)
        ref = ref.float()
        if not torch.isfinite(out).all():
            return Parity("failed: non-finite outputs", rtol=rtol)
        max_abs = max(max_abs, (out - ref).abs().max().item())
        scale = max(scale, ref.abs().max().item())
    rel = max_abs / scale if scale > 0 else max_abs
    return Parity("ok" if rel <= rtol else "failed", max_abs=max_abs, max_rel=rel, rtol=rtol)


@dataclass
class ExportResult:
    """What ``export_model`` made."""

    model: str
    format: str
    artefact: Path
    sidecar: Path
    parity: Parity
    info: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def _check_out_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"--out {out_dir}: cannot create the folder ({exc.strerror})") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise ExportError(f"--out {out_dir}: folder is not writable")


def _build(name: str, checkpoint: str | Path | None, frames: int | None, size: int | None,
           stream: bool) -> tuple[nn.Module, dict[str, Any]]:
    from ..models import create_model, model_spec

    spec = model_spec(name)
    if stream and spec.family != "movinet":
        raise ExportError(f"--stream: {name} has no stream mode (MoViNet only)")
    extra = {"causal": True} if stream else {}
    if checkpoint is None:
        log.warning("%s: no --checkpoint, exporting randomly initialised weights", name)
        model = create_model(name, frames=frames, size=size, **extra)
        return model.eval(), {"checkpoint": None, "random_init": True}
    from ..train.predict import load_for_inference

    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"--checkpoint {path}: no such file")
    loaded = load_for_inference(name, path, device=get_backend("cpu").device, frames=frames,
                                size=size)  # exporters trace on the CPU
    model = loaded.model
    if stream:  # the same parameters in the causal variant
        causal = create_model(name, num_classes=loaded.num_classes, frames=loaded.frames,
                              size=loaded.size, causal=True,
                              **getattr(model, "arch_args", dict)())
        causal.load_state_dict(model.state_dict())
        model = causal
    return model.eval(), {"checkpoint": str(path), "sha256": file_sha256(path),
                          "random_init": False, "classes": loaded.classes}


def _size(path: Path) -> int:
    """Bytes of a file, or of every file of a package directory."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _fsync(path: Path) -> None:
    """Flush a file, or every file of a package directory, to disk before it is renamed in (best
    effort: some systems cannot flush a file opened for reading)."""
    for f in [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]:
        fd = os.open(f, os.O_RDONLY)
        try:
            with contextlib.suppress(OSError):
                os.fsync(fd)
        finally:
            os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def sidecar_path(artefact: str | Path) -> Path:
    """The JSON sidecar of an artefact: its name + ``.json``."""
    artefact = Path(artefact)
    return artefact.with_name(artefact.name + ".json")


def _commit(tmp: Path, tmp_sidecar: Path, final: Path) -> None:
    """Put a finished artefact and its sidecar in place: the previous sidecar goes first (an
    artefact without a sidecar is uncommitted), then the artefact, then the new sidecar. A
    previous package directory is moved into the temporary folder and removed with it."""
    sidecar = sidecar_path(final)
    with contextlib.suppress(FileNotFoundError):
        sidecar.unlink()
    if final.is_dir() and not final.is_symlink():
        os.replace(final, tmp.parent / "previous")
    elif final.is_dir():  # a link to a folder: replace the link, not what it points to
        final.unlink()
    os.replace(tmp, final)
    os.replace(tmp_sidecar, sidecar)
    if os.name == "posix":  # the renames themselves reach the disk
        with contextlib.suppress(OSError):
            fd = os.open(final.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def verify_exported(artefact: str | Path) -> dict[str, Any]:
    """The sidecar of a committed export, after checking that it describes this artefact.

    Raises:
        FileNotFoundError: no artefact at ``artefact``.
        ExportError: the sidecar is missing or unreadable, or the artefact's size or sha256
            differs from the sidecar's (an export killed before it committed, or a file changed
            since); one line naming the file.
    """
    path = Path(artefact)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such exported artefact")
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        raise ExportError(f"{path}: its sidecar {sidecar.name} is missing, so the export did not "
                          "finish (or the file was not made by litevid export); export it again")
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        want = record["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ExportError(f"{sidecar}: not a litevid export sidecar ({type(exc).__name__}: "
                          f"{exc}); export {path.name} again") from None
    size = record.get("size_bytes")  # absent in sidecars written before it was recorded
    got_size = _size(path)
    if size is not None and size != got_size:
        raise ExportError(f"{path}: {got_size} bytes but its sidecar {sidecar.name} says {size}: "
                          "the artefact is incomplete or was changed; export it again")
    got = file_sha256(path)
    if got != want:
        raise ExportError(f"{path}: sha256 {got[:16]}... differs from its sidecar {sidecar.name} "
                          f"({str(want)[:16]}...): the artefact is incomplete or was changed; "
                          "export it again")
    return record


def load_exported(artefact: str | Path, *, threads: int | None = None
                  ) -> tuple[Any, dict[str, Any]]:
    """A runner of an exported artefact (``formats.Format.load``) and its sidecar, after
    ``verify_exported``: an uncommitted or altered artefact is never run."""
    record = verify_exported(artefact)
    fmt = get_format(record.get("format", ""))
    return fmt.load(Path(artefact), threads=threads), record


def _run_stream(runner: Any, step: StreamStep, chunks: list[torch.Tensor],
                n_out: int) -> list[list[torch.Tensor]]:
    """Feed ``chunks`` one at a time through ``runner`` (a runtime or the eager step)."""
    state = list(step.state_inputs())
    outs = []
    for chunk in chunks:
        result = list(runner([chunk, *state]))
        outs.append(result[:n_out])
        state = [torch.as_tensor(t) for t in result[n_out:]]
    return outs


def export_model(
    name: str,
    format: str,
    *,
    out_dir: str | Path = "exports",
    checkpoint: str | Path | None = None,
    frames: int | None = None,
    size: int | None = None,
    precision: str = "fp32",
    compute_units: str = "all",
    stream: bool = False,
    threads: int | None = None,
    seed: int = 0,
    batch_size: int = 1,
) -> ExportResult:
    """Export ``name`` to ``format``, check parity, write the artefact and its sidecar.

    Args:
        name: registry name.
        format: a name in ``formats.FORMATS``.
        out_dir: output folder (created).
        checkpoint: a ``litevid train`` checkpoint or a plain state dict; ``None`` = random
            initialisation (logged as a warning).
        frames, size: clip shape (default: the checkpoint's, else the model spec's).
        precision: ``fp32`` or ``fp16`` (weights and input in half precision).
        compute_units: Core ML compute units (``all``, ``cpu``, ``gpu``, ``ane``).
        stream: MoViNet only: export the causal per-frame step with explicit state.
        threads: runtime threads for the parity run (default: torch's).
        seed: seed of the random parity clip.
        batch_size: the exported (static) batch; 1 = single-instance inference.

    Raises:
        ExportError: missing package, unwritable folder, an operator a runtime lacks, a failed
            parity; nothing is left behind.
    """
    from .. import __version__
    from ..utils.io import write_json
    from ..utils.tempfiles import make_temp_dir

    t0 = time.perf_counter()
    fmt: Format = get_format(format)
    if precision not in PRECISIONS:
        raise ExportError(f"--precision {precision!r}: choose {' or '.join(PRECISIONS)}")
    fmt.check_available()
    out = Path(out_dir)
    model, weights = _build(name, checkpoint, frames, size, stream)  # a bad checkpoint: no folder
    _check_out_dir(out)
    spec = model.spec
    T, S = spec.frames, spec.size
    gen = torch.Generator().manual_seed(seed)
    heads = output_names(model.num_classes)
    if stream:
        module: nn.Module = StreamStep(model, batch_size, S, S)
        chunks = [torch.randn(batch_size, spec.in_chans, 1, S, S, generator=gen)
                  for _ in range(STREAM_STEPS)]
        inputs = (chunks[0], *module.state_inputs())
        in_names = ["chunk", *(f"state_{k.replace('.', '_')}" for k in module.state_names)]
        out_names = heads + [f"new_state_{k.replace('.', '_')}" for k in module.state_names]
    else:
        module = ClipModel(model)
        inputs = (torch.randn(batch_size, spec.in_chans, T, S, S, generator=gen),)
        in_names, out_names = ["clip"], heads
    module.eval()
    with torch.no_grad():
        if stream:
            reference = _run_stream(lambda ts: list(module(*ts)), module, chunks, len(heads))
        else:
            reference = list(module(*inputs))
    if precision == "fp16":
        module = module.half()
        inputs = tuple(t.half() for t in inputs)
        chunks = [c.half() for c in chunks] if stream else []

    stem = (f"{name}_{T}x{S}" + (f"_b{batch_size}" if batch_size != 1 else "")
            + ("_fp16" if precision == "fp16" else "") + ("_stream" if stream else ""))
    final = out / f"{stem}{fmt.suffix}"
    tmp = make_temp_dir(final) / final.name  # also removes what a killed export left
    try:
        try:
            info = fmt.export(module, inputs, tmp, input_names=in_names, output_names=out_names,
                              options={"compute_units": compute_units, "precision": precision})
        except ExportError:
            raise
        except Exception as exc:  # an exporter error: name the operator/reason in one line
            raise ExportError(f"{fmt.name} export of {name} failed: {_reason(exc)}") from None
        rtol = fmt.parity_rtol[precision]
        why_not = fmt.cannot_run()
        if why_not:
            parity = Parity(why_not, rtol=rtol)
        else:
            runner = fmt.load(tmp, threads=threads)
            if stream:
                got = _run_stream(runner, module, chunks, len(heads))
                parity = check_parity([t for step in reference for t in step],
                                      [t for step in got for t in step], rtol)
                parity.steps = len(chunks)
            else:
                parity = check_parity(reference, runner(list(inputs)), rtol)
            if not parity.ok:
                raise ExportError(f"{fmt.name} export of {name}: parity failed "
                                  f"({parity.describe()}); no artefact written")
        _fsync(tmp)
        record = {
            "model": name, "paper_name": spec.paper_name, "format": fmt.name,
            "runtime": fmt.runtime, "artefact": final.name, "sha256": file_sha256(tmp),
            "size_bytes": _size(tmp), "precision": precision,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "litevid_version": __version__,
            "input": {"names": in_names, "shapes": [list(t.shape) for t in inputs],
                      "dtype": str(inputs[0].dtype).replace("torch.", ""), "layout": "BCTHW",
                      "value_range": "RGB in [0, 1], then (x - mean) / std per channel",
                      "mean": list(spec.mean), "std": list(spec.std)},
            "outputs": out_names, "num_classes": model.num_classes,
            "classes": weights.pop("classes", None),  # label names, when the checkpoint has them
            "weights": weights, "parity": parity.__dict__, "format_info": info,
            "tools": fmt.versions(), "deprecated": fmt.deprecated,
        }
        if stream:
            record["stream"] = {"state": module.describe(), "chunk_frames": 1,
                                "usage": "feed one frame (B, C, 1, H, W) and the state; keep the "
                                         "returned state; start (or reset) with zeros"}
        tmp_sidecar = tmp.parent / sidecar_path(final).name
        write_json(tmp_sidecar, record)  # in the temporary folder: committed by _commit
        _commit(tmp, tmp_sidecar, final)
    finally:
        _remove(tmp.parent)
    return ExportResult(name, fmt.name, final, sidecar_path(final), parity, info,
                        time.perf_counter() - t0)


def _reason(exc: BaseException) -> str:
    """One line naming what failed: the exporter's exception summary (the missing operator)
    when it has one, else the first line of the message."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if "## Exception summary" in lines:  # torch.onnx: the root cause comes first there
        first = lines[lines.index("## Exception summary") + 1]
        return re.sub(r"^<class '[\w.]*?(\w+)'>: ", r"\1: ", first)[:300]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]
