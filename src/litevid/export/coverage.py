"""Which share of a model's FLOPs a backend delegate covers, from the graphs before and after.

Every ``call_function`` node's multiply-adds are computed from its fake tensors with PyTorch's
own FLOP formulas (``torch.utils.flop_counter``: convolutions, matmuls, attention; the same
convention as ``litevid.bench.flops``, so norms and activations count zero). The total is the
exported program before lowering; what is left outside delegate calls after lowering runs on
the portable kernels. ``delegated_share = 1 - portable / total``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
from torch.utils import flop_counter as _fc

from ..bench import flops as _flops  # noqa: F401  registers the CPU attention formula

__all__ = ["delegate_coverage", "graph_flops", "total_flops"]


def _aten_packet(target: Any) -> Any:
    op = getattr(target, "_op", target)  # an edge-dialect op wraps its aten overload in ``_op``
    return getattr(op, "overloadpacket", None)


def _meta(arg: Any) -> Any:
    if isinstance(arg, torch.fx.Node):
        return arg.meta.get("val")
    if isinstance(arg, (list, tuple)):
        return type(arg)(_meta(a) for a in arg)
    return arg


def _node_flops(node: torch.fx.Node) -> int:
    formula = _fc.flop_registry.get(_aten_packet(node.target))
    if formula is None:
        return 0
    args = _meta(node.args)
    kwargs = {k: _meta(v) for k, v in node.kwargs.items()}
    try:
        return int(formula(*args, **kwargs, out_val=node.meta.get("val")))
    except Exception:  # a formula that does not take this overload's arguments
        return 0


def _op_name(node: torch.fx.Node) -> str:
    packet = _aten_packet(node.target)
    return str(packet).replace("aten.", "") if packet is not None else str(node.target)


def graph_flops(graph_module: torch.fx.GraphModule) -> tuple[int, Counter]:
    """Total FLOPs (2 per multiply-add, PyTorch's count) of a graph's own ``call_function``
    nodes, and a count of those nodes per operator (delegate calls and getitems excluded)."""
    total, ops = 0, Counter()
    for node in graph_module.graph.nodes:
        if node.op != "call_function":
            continue
        name = getattr(node.target, "__name__", str(node.target))
        if "executorch_call_delegate" in str(node.target) or name == "getitem":
            continue
        total += _node_flops(node)
        ops[_op_name(node)] += 1
    return total, ops


def total_flops(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> int:
    """FLOPs (2 per multiply-add) of one forward of ``module`` on ``inputs``."""
    counter = _fc.FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(*inputs)
    return counter.get_total_flops()


def delegate_coverage(total: int, after: Any) -> dict[str, Any]:
    """Share of FLOPs delegated, and the operators left on portable kernels.

    Args:
        total: FLOPs of the whole module (``total_flops``).
        after: the lowered edge ``ExportedProgram`` (``edge.exported_program()``).
    """
    portable, ops = graph_flops(after.graph_module)
    delegates = sum(1 for n in after.graph.nodes if "executorch_call_delegate" in str(n.target))
    share = 1.0 - portable / total if total else None
    return {"delegated_flops_share": None if share is None else round(share, 6),
            "gflops_total": round(total / 2e9, 4), "gflops_portable": round(portable / 2e9, 4),
            "delegate_calls": delegates, "portable_ops": dict(sorted(ops.items()))}
