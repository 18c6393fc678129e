"""The export formats: how a module becomes an artefact, and how that artefact is run back.

One class per format, registered in ``FORMATS`` under its ``--format`` name. A format knows
which packages it needs (a missing one is one line naming the ``export`` extra), how to write
its artefact from a module and example inputs (``export``: returns facts for the sidecar), how to
load the artefact into a runner for parity and latency (``load``: a callable taking the input
tensors and returning the output tensors), and whether it can run on this machine at all
(``cannot_run``: Core ML predicts on macOS only).

Adding a format is one class here with ``@register_format``. Every ``export`` writes to the path
it is given; the caller (``export.api``) gives a temporary name and renames it when everything,
parity included, has passed.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
import platform
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Sequence

import torch
import torch.nn as nn

from ..utils.registry import add_unique, lookup

__all__ = ["ExportError", "FORMATS", "Format", "MissingDependency", "Runner", "get_format",
           "quiet", "runtime_format"]

# Runs an artefact: input tensors -> output tensors (in the exported output order).
Runner = Callable[[Sequence[torch.Tensor]], list[torch.Tensor]]

FORMATS: dict[str, "Format"] = {}


class ExportError(RuntimeError):
    """An export that cannot be made or fails its check; the message is one line for the user."""


class MissingDependency(ExportError):
    """A package a format needs is not installed."""


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence warnings and the native libraries' prints (ExecuTorch, torchao, cpuinfo) on the
    process's stdout/stderr while exporting or loading; re-raised errors keep their messages."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:  # Python's own sys.stdout/stderr write to fds 1 and 2 too, so they land here
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


class Format:
    """One export format. Subclasses set the class attributes and implement ``export``/``load``.

    Attributes:
        name: the ``--format`` name.
        suffix: artefact file (or package directory) suffix.
        runtime: the runtime that runs it (``litevid bench --runtime``, the ``runtime`` column).
        requires: ``(import name, pip distribution)`` pairs the format needs.
        deprecated: why the format is deprecated upstream, or ``None``.
        parity_rtol: relative tolerance (max |diff| / max |reference|) per precision.
    """

    name: ClassVar[str]
    suffix: ClassVar[str]
    runtime: ClassVar[str]
    requires: ClassVar[tuple[tuple[str, str], ...]] = ()
    deprecated: ClassVar[str | None] = None
    # fp32: kernels differ in summation order only; fp16: 10-bit mantissa through ~100 layers.
    parity_rtol: ClassVar[dict[str, float]] = {"fp32": 1e-4, "fp16": 1e-2}

    def check_available(self) -> None:
        """Raise ``MissingDependency`` naming the extra when a required package is absent."""
        for module, dist in self.requires:
            try:
                with quiet():
                    importlib.import_module(module)
            except ImportError as exc:
                raise MissingDependency(
                    f"--format {self.name} needs {dist} ({exc}); install the export extra: "
                    "pip install 'litevid[export]'") from None

    def versions(self) -> dict[str, str | None]:
        """Versions of the tools that made the artefact (for the sidecar)."""
        out = {"torch": torch.__version__}
        out.update({dist: _version(dist) for _, dist in self.requires})
        return out

    def cannot_run(self) -> str | None:
        """Why this machine cannot run the artefact (``None``: it can)."""
        return None

    def export(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], path: Path, *,
               input_names: Sequence[str], output_names: Sequence[str],
               options: dict[str, Any]) -> dict[str, Any]:
        """Write the artefact of ``module`` at ``path``; return facts for the sidecar."""
        raise NotImplementedError

    def load(self, path: Path, *, threads: int | None = None) -> Runner:
        """A runner of the artefact at ``path`` with ``threads`` intra-op threads."""
        raise NotImplementedError


def register_format(cls: type[Format]) -> type[Format]:
    add_unique(FORMATS, cls.name, cls(), "export format")
    return cls


def get_format(name: str) -> Format:
    """The format called ``name``; an unknown name raises with the close matches."""
    return lookup(FORMATS, name, "export format")


def runtime_format(runtime: str) -> Format:
    """The format whose artefacts ``runtime`` runs (``onnxruntime`` -> ``onnx``)."""
    by_runtime = {f.runtime: f for f in FORMATS.values()}
    return lookup(by_runtime, runtime, "runtime")


def _threads(threads: int | None) -> int:
    return threads or torch.get_num_threads()


# ---- ONNX ---------------------------------------------------------------------------------------

@register_format
class OnnxFormat(Format):
    """``torch.onnx.export(dynamo=True)`` (torch.export + onnxscript), run by ONNX Runtime (CPU)."""

    name = "onnx"
    suffix = ".onnx"
    runtime = "onnxruntime"
    requires = (("onnx", "onnx"), ("onnxscript", "onnxscript"), ("onnxruntime", "onnxruntime"))
    opset = 18

    def export(self, module, inputs, path, *, input_names, output_names, options):
        from ..layers.attention import explicit_attention

        # Opset 18 has no attention op: the exporter decomposes SDPA anyway, and its decomposition
        # of masked SDPA (Swin) gives strides that later break a reshape; bmm + softmax does not.
        with quiet(), explicit_attention():
            program = torch.onnx.export(module, inputs, dynamo=True, opset_version=self.opset,
                                        input_names=list(input_names),
                                        output_names=list(output_names), external_data=False,
                                        verbose=False)
            program.save(str(path), external_data=False)
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        opsets = {imp.domain or "ai.onnx": imp.version for imp in model.opset_import}
        ops = sorted({n.op_type for n in model.graph.node})
        return {"opset": opsets.get("ai.onnx"), "onnx_ops": ops}

    def load(self, path, *, threads=None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = _threads(threads)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # e.g. "Could not find an implementation for Conv(11) node ..."
            raise ExportError(f"ONNX Runtime cannot load {path.name}: "
                              f"{str(exc).strip().splitlines()[-1]}") from None
        names = [i.name for i in session.get_inputs()]

        def run(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
            feeds = {n: t.detach().cpu().numpy() for n, t in zip(names, tensors)}
            return [torch.from_numpy(o) for o in session.run(None, feeds)]

        return run


# ---- ExecuTorch ---------------------------------------------------------------------------------

@register_format
class ExecuTorchFormat(Format):
    """ExecuTorch program (``.pte``) with the XNNPACK delegate, from the exportable form.

    XNNPACK has no 3D convolution or pooling, so the module is first rewritten by
    ``exportable.exportable_form`` (Conv3d as Conv2d over temporal taps, separable 2D pools,
    folded BatchNorm). Operators the delegate does not take run on ExecuTorch's portable
    kernels; the sidecar lists them and the share of the FLOPs the delegate covers.
    """

    name = "executorch"
    suffix = ".pte"
    runtime = "executorch"
    requires = (("executorch", "executorch"),)

    def export(self, module, inputs, path, *, input_names, output_names, options):
        with quiet():  # the imports print torchao/cpuinfo noise
            from executorch.backends.xnnpack.partition.xnnpack_partitioner import (
                XnnpackPartitioner,
            )
            from executorch.exir import to_edge_transform_and_lower

        from ..layers.attention import explicit_attention
        from .coverage import delegate_coverage, total_flops
        from .exportable import exportable_form, remaining_3d_ops

        form = exportable_form(module)
        flops = total_flops(form, inputs)
        with quiet(), explicit_attention():
            program = torch.export.export(form, inputs)
            left = remaining_3d_ops(program)
            if left:
                raise ExportError(f"XNNPACK has no {_summarize_ops(left)}, and the exportable "
                                  "form did not rewrite it")
            edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
            coverage = delegate_coverage(flops, edge.exported_program())
            path.write_bytes(edge.to_executorch().buffer)
        return {"delegate": "XnnpackPartitioner", **coverage}

    def load(self, path, *, threads=None):
        with quiet():
            from executorch.extension.pybindings import portable_lib
            from executorch.runtime import Runtime

            portable_lib._unsafe_reset_threadpool(_threads(threads))
            try:
                method = Runtime.get().load_program(str(path)).load_method("forward")
            except Exception as exc:
                raise ExportError(f"ExecuTorch cannot load {path.name}: {exc}") from None

        def run(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
            try:
                return list(method.execute(list(tensors)))
            except RuntimeError as exc:
                raise ExportError(f"ExecuTorch failed running {path.name} ({exc}); an operator "
                                  "without a kernel for these shapes (see the runtime log)"
                                  ) from None

        return run


# ---- Core ML ------------------------------------------------------------------------------------

COMPUTE_UNITS = {"all": "ALL", "cpu": "CPU_ONLY", "gpu": "CPU_AND_GPU", "ane": "CPU_AND_NE"}


@register_format
class CoreMLFormat(Format):
    """Core ML ML Program (``.mlpackage``) converted from ``torch.export`` by coremltools.

    Conversion runs anywhere; prediction (parity, latency) needs macOS. The compute-unit choice
    (``--compute-units all|cpu|gpu|ane``: all units, CPU only, CPU+GPU, CPU+Neural Engine) is
    stored in the model and the sidecar.
    """

    name = "coreml"
    suffix = ".mlpackage"
    runtime = "coreml"
    requires = (("coremltools", "coremltools"),)

    def cannot_run(self) -> str | None:
        return None if platform.system() == "Darwin" else "not run (needs macOS)"

    def export(self, module, inputs, path, *, input_names, output_names, options):
        import coremltools as ct

        units = options.get("compute_units", "all")
        precision = options.get("precision", "fp32")
        with quiet():
            program = _coreml_program(module, inputs)
            try:
                mlmodel = ct.convert(
                    program, convert_to="mlprogram",
                    compute_units=getattr(ct.ComputeUnit, COMPUTE_UNITS[units]),
                    compute_precision=(ct.precision.FLOAT32 if precision == "fp32"
                                       else ct.precision.FLOAT16),
                    minimum_deployment_target=ct.target.iOS17)
            except (NotImplementedError, ValueError, RuntimeError) as exc:
                raise ExportError(f"coremltools cannot convert: {_last_line(exc)}") from None
            spec = mlmodel.get_spec()
            names = list(input_names) + list(output_names)
            features = [f.name for f in (*spec.description.input, *spec.description.output)]
            for old, new in zip(features, names):
                if old != new:
                    ct.utils.rename_feature(spec, old, new)
            mlmodel = ct.models.MLModel(spec, weights_dir=mlmodel.weights_dir)
            mlmodel.save(str(path))
        _check_coreml_spec(mlmodel.get_spec(), inputs, input_names, output_names)
        return {"compute_units": f"{units} ({COMPUTE_UNITS[units]})",
                "spec_version": spec.specificationVersion,
                "model_type": spec.WhichOneof("Type"),
                "coreml_inputs": [i.name for i in spec.description.input],
                "coreml_outputs": [o.name for o in spec.description.output]}

    def load(self, path, *, threads=None):
        reason = self.cannot_run()
        if reason:
            raise ExportError(f"{path.name}: Core ML prediction {reason}")
        import coremltools as ct

        mlmodel = ct.models.MLModel(str(path))
        spec = mlmodel.get_spec()
        names = [i.name for i in spec.description.input]
        outs = [o.name for o in spec.description.output]

        def run(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
            result = mlmodel.predict({n: t.numpy() for n, t in zip(names, tensors)})
            return [torch.from_numpy(result[o]) for o in outs]

        return run


# ---- PyTorch Lite (TorchScript for the lite interpreter) ----------------------------------------

@register_format
class TorchScriptLiteFormat(Format):
    """TorchScript traced and saved for the lite interpreter (``.ptl``), the study's Android path.

    Deprecated upstream (TorchScript and PyTorch Mobile are in maintenance; ExecuTorch replaces
    them); kept to reproduce the paper. Parity loads it back with the mobile loader.
    """

    name = "torchscript-lite"
    suffix = ".ptl"
    runtime = "torchscript-lite"
    deprecated = ("PyTorch Mobile / TorchScript are deprecated upstream; ExecuTorch "
                  "(--format executorch) is their successor")

    def export(self, module, inputs, path, *, input_names, output_names, options):
        from torch.utils.mobile_optimizer import optimize_for_mobile

        with quiet(), torch.no_grad():
            traced = torch.jit.freeze(torch.jit.trace(module, inputs, check_trace=False).eval())
            try:  # conv/linear prepacking for XNNPACK, as the study's Android builds did
                traced, optimized = optimize_for_mobile(traced), "yes"
            except RuntimeError as exc:  # a torch build without XNNPACK (e.g. some CPU wheels)
                optimized = f"no ({_last_line(exc).split('. ')[-1].rstrip('.')})"
            traced._save_for_lite_interpreter(str(path))
        return {"interpreter": "lite", "optimized_for_mobile": optimized}

    def load(self, path, *, threads=None):
        from torch.jit.mobile import _load_for_lite_interpreter

        with quiet():
            module = _load_for_lite_interpreter(str(path))

        def run(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
            with torch.inference_mode():
                out = module(*tensors)
            return list(out) if isinstance(out, (tuple, list)) else [out]

        return run


def _coreml_program(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> Any:
    """``torch.export`` with the default decompositions but ``roll`` kept (coremltools converts
    it; decomposed it becomes ``fmod`` + indexing, which it does not), and ``alias`` nodes (no-op
    views that coremltools rejects) removed."""
    table = torch.export.default_decompositions()
    table.pop(torch.ops.aten.roll.default, None)
    program = torch.export.export(module, inputs).run_decompositions(table)
    graph = program.graph_module.graph
    for node in list(graph.nodes):
        if node.op == "call_function" and node.target is torch.ops.aten.alias.default:
            node.replace_all_uses_with(node.args[0])
            graph.erase_node(node)
    program.graph_module.recompile()
    return program


def _check_coreml_spec(spec: Any, inputs: tuple[torch.Tensor, ...], input_names: Sequence[str],
                       output_names: Sequence[str]) -> None:
    """What runs on Linux in place of a prediction: the saved model's interface is the one
    exported (ML Program, input names and shapes, output names)."""
    if spec.WhichOneof("Type") != "mlProgram":
        raise ExportError(f"Core ML spec check: type {spec.WhichOneof('Type')}, not mlProgram")
    got_in = {i.name: list(i.type.multiArrayType.shape) for i in spec.description.input}
    want_in = {n: list(t.shape) for n, t in zip(input_names, inputs)}
    got_out = [o.name for o in spec.description.output]
    if got_in != want_in or got_out != list(output_names):
        raise ExportError(f"Core ML spec check: inputs {got_in} / outputs {got_out}, expected "
                          f"{want_in} / {list(output_names)}")


def _summarize_ops(found: Sequence[str]) -> str:
    """``remaining_3d_ops`` strings (``"op (node): input shape"``) as ``op (N nodes, e.g. input
    shape)`` per operator."""
    groups: dict[str, list[str]] = {}
    for item in found:
        op, _, rest = item.partition(" (")
        groups.setdefault(op, []).append(rest.split("): ", 1)[-1])
    return "; ".join(f"{op} ({len(v)} node(s), e.g. {v[0]})" for op, v in sorted(groups.items()))


def _last_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}"
