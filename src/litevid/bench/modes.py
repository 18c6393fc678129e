"""The measured modes: a table of ``Mode`` entries, each building its step before timing starts.

- ``train``: one full training step: forward under autocast, cross-entropy, backward (scaled when
  fp16), SGD step, zero-grad. Batch 8 in the study.
- ``batch``: forward only under ``torch.inference_mode()``, batch 32.
- ``single``: forward only under ``torch.inference_mode()``, batch 1.

Autocast opens and closes inside every step, in every mode, as in a serving loop or a training
loop: autocast caches the fp16/bf16 copies of the weights only while it is open, so a context
held open around all timed steps would cast the weights once and time steps a real deployment
never runs. The device backend (``litevid.devices``) gives autocast and the grad scaler.

Adding a mode is one entry in ``MODE_TABLE`` (its name, the study's batch, whether it trains,
whether the CPU default runs it, and the function building its step); the flags, the runner and
the FLOP count read the table. This module imports torch only inside the step builders, so the
command line can read the table without loading torch.

Inputs are synthetic tensors of the model's input contract (``model.spec``), created on the
device before timing, so no data loading, host-to-device copy or allocation of inputs is ever
timed. ``torch.compile`` runs here, outside the timed region and inside the same
inference/autocast context the timed steps use, and its duration is returned.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ContextManager

from ..devices.base import PRECISIONS

if TYPE_CHECKING:
    import torch
    import torch.nn as nn

    from ..devices import DeviceBackend

__all__ = ["MODES", "MODE_TABLE", "Mode", "PAPER_BATCH", "PRECISIONS", "PreparedStep",
           "make_inputs", "prepare_step"]


def make_inputs(input_shape: tuple[int, ...], batch_size: int, num_classes: int | dict[str, int],
                device: torch.device, *, channels_last: bool = False,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random clip batch ``(B, C, T, H, W)`` and integer targets ``(B,)`` on ``device``
    (one target per clip; named heads take it modulo their width, see ``_loss``)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((batch_size, *input_shape), generator=gen)  # (B, C, T, H, W)
    widest = max(num_classes.values()) if isinstance(num_classes, dict) else num_classes
    target = torch.randint(0, max(widest, 1), (batch_size,), generator=gen)
    x, target = x.to(device), target.to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    return x, target


def _loss(out: Any, target: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F

    if isinstance(out, dict):  # multi-head models (EPIC-KITCHENS verb/noun)
        return sum(F.cross_entropy(o.float(), target % o.shape[-1]) for o in out.values())
    return F.cross_entropy(out.float(), target % out.shape[-1])


@dataclass
class PreparedStep:
    """A ready-to-time step.

    Attributes:
        step: one measured unit of work (no arguments, result discarded); it opens and closes
            autocast itself.
        context: context manager factory the caller enters around warm-up, the timed loop and
            each later pass (``inference_mode`` for inference, nothing for train).
        compile_s: seconds spent in ``torch.compile`` + the first (compiling) call, or None.
        grad_scaler: the step scales its loss (fp16 training).
    """

    step: Callable[[], Any]
    context: Callable[[], ContextManager]
    compile_s: float | None = None
    grad_scaler: bool = False


def _train_step(model: nn.Module, fn: Callable[..., Any], x: torch.Tensor, target: torch.Tensor,
                precision: str, device: DeviceBackend
                ) -> tuple[Callable[[], None], Callable[[], ContextManager], bool]:
    """Forward under autocast, loss, backward (scaled for fp16), SGD step, zero-grad."""
    import torch

    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    scaler = device.grad_scaler(precision)

    def step() -> None:
        with device.autocast(precision):
            loss = _loss(fn(x), target)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        opt.zero_grad(set_to_none=True)

    return step, contextlib.nullcontext, scaler is not None


def _forward_step(model: nn.Module, fn: Callable[..., Any], x: torch.Tensor, target: torch.Tensor,
                  precision: str, device: DeviceBackend
                  ) -> tuple[Callable[[], None], Callable[[], ContextManager], bool]:
    """Forward only, under autocast opened per step, inside ``inference_mode``."""
    import torch

    model.eval()

    def step() -> None:
        with device.autocast(precision):
            fn(x)

    return step, torch.inference_mode, False


@dataclass(frozen=True)
class Mode:
    """One measured mode.

    Attributes:
        name: the ``--modes`` name.
        paper_batch: its batch size in the study (section 3.2).
        training: the step trains (model in train mode; FLOPs count forward and backward).
        cpu_default: measured by default on a CPU-only machine.
        build: ``build(model, fn, x, target, precision, device) -> (step, context, scaled)``;
            ``fn`` is the model or its compiled form, ``device`` its ``DeviceBackend``.
    """

    name: str
    paper_batch: int
    training: bool
    cpu_default: bool
    build: Callable[..., tuple[Callable[[], None], Callable[[], ContextManager], bool]]


MODE_TABLE: dict[str, Mode] = {m.name: m for m in (
    Mode("train", paper_batch=8, training=True, cpu_default=False, build=_train_step),
    Mode("batch", paper_batch=32, training=False, cpu_default=False, build=_forward_step),
    Mode("single", paper_batch=1, training=False, cpu_default=True, build=_forward_step),
)}
MODES = tuple(MODE_TABLE)
PAPER_BATCH = {name: m.paper_batch for name, m in MODE_TABLE.items()}


def prepare_step(model: nn.Module, mode: str, x: torch.Tensor, target: torch.Tensor, *,
                 device: DeviceBackend, precision: str = "fp32",
                 compile: bool = False) -> PreparedStep:
    """Build the step of ``mode`` for ``model`` (already on the input's device).

    Args:
        model: the model, on its device (and memory format).
        mode: a name in ``MODE_TABLE``.
        x: input batch ``(B, C, T, H, W)``.
        target: class indices ``(B,)`` (training modes only).
        device: the ``DeviceBackend`` the model is on (autocast, grad scaler, synchronisation).
        precision: ``fp32``, ``amp-fp16`` or ``amp-bf16`` (already resolved).
        compile: ``torch.compile`` the model and run the compiling call here.
    """
    import torch

    if mode not in MODE_TABLE:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    fn: nn.Module | Callable[..., Any] = torch.compile(model) if compile else model
    step, context, scaled = MODE_TABLE[mode].build(model, fn, x, target, precision, device)
    compile_s = None
    if compile:
        t0 = time.perf_counter()
        with context():
            step()
        device.synchronize()
        compile_s = time.perf_counter() - t0
    return PreparedStep(step=step, context=context, compile_s=compile_s, grad_scaler=scaled)
