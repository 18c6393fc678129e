"""The study's three measured modes as step functions built before timing starts.

- ``train``: one full training step: forward under autocast, cross-entropy, backward (scaled when
  fp16), SGD step, zero-grad. Batch 8 in the study.
- ``batch``: forward only under ``torch.inference_mode()``, batch 32.
- ``single``: forward only under ``torch.inference_mode()``, batch 1.

Inputs are synthetic tensors of the model's input contract (``model.spec``), created on the
device before timing, so no data loading, host-to-device copy or allocation of inputs is ever
timed. ``torch.compile`` runs here, outside the timed region and inside the same
inference/autocast context the timed steps use, and its duration is returned.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, Callable, ContextManager

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import MODES

__all__ = ["PreparedStep", "autocast_context", "make_inputs", "prepare_step"]

_AMP_DTYPES = {"amp-fp16": torch.float16, "amp-bf16": torch.bfloat16}


def autocast_context(device_type: str, precision: str) -> ContextManager:
    """Autocast for ``amp-*`` precisions, a no-op for ``fp32``."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision not in _AMP_DTYPES:
        raise ValueError(f"unknown precision {precision!r}")
    return torch.autocast(device_type=device_type, dtype=_AMP_DTYPES[precision])


def make_inputs(input_shape: tuple[int, ...], batch_size: int, num_classes: int | dict[str, int],
                device: torch.device, *, channels_last: bool = False,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random clip batch ``(B, C, T, H, W)`` and integer targets ``(B,)`` on ``device``
    (one target per clip; named heads take it modulo their width, see ``_loss``)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((batch_size, *input_shape), generator=gen)  # (B, C, T, H, W)
    widest = max(num_classes.values()) if isinstance(num_classes, dict) else num_classes
    target = torch.randint(0, max(widest, 1), (batch_size,), generator=gen)
    x, target = x.to(device), target.to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    return x, target


def _loss(out: Any, target: torch.Tensor) -> torch.Tensor:
    if isinstance(out, dict):  # multi-head models (EPIC-KITCHENS verb/noun)
        return sum(F.cross_entropy(o.float(), target % o.shape[-1]) for o in out.values())
    return F.cross_entropy(out.float(), target % out.shape[-1])


@dataclass
class PreparedStep:
    """A ready-to-time step.

    Attributes:
        step: one measured unit of work (no arguments, result discarded).
        context: context manager factory the caller enters once around warm-up, timing and the
            memory pass (``inference_mode`` + autocast for inference; nothing for train, whose
            step manages autocast itself).
        compile_s: seconds spent in ``torch.compile`` + the first (compiling) call, or None.
    """

    step: Callable[[], Any]
    context: Callable[[], ContextManager]
    compile_s: float | None = None


def _inference_context(device_type: str, precision: str) -> Callable[[], ContextManager]:
    def ctx() -> ContextManager:
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        stack.enter_context(autocast_context(device_type, precision))
        return stack

    return ctx


def prepare_step(model: nn.Module, mode: str, x: torch.Tensor, target: torch.Tensor, *,
                 precision: str = "fp32", compile: bool = False,
                 sync: Callable[[], None] = lambda: None) -> PreparedStep:
    """Build the step of ``mode`` for ``model`` (already on the input's device).

    Args:
        model: the model, on its device (and memory format).
        mode: ``train``, ``batch`` or ``single``.
        x: input batch ``(B, C, T, H, W)``.
        target: class indices ``(B,)`` (train only).
        precision: ``fp32``, ``amp-fp16`` or ``amp-bf16``.
        compile: ``torch.compile`` the model and run the compiling call here.
        sync: device synchronisation, so the compile time is complete.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    device_type = x.device.type
    fn: nn.Module | Callable[..., Any] = torch.compile(model) if compile else model

    if mode == "train":
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        scaler = (torch.amp.GradScaler(device_type)
                  if precision == "amp-fp16" and device_type == "cuda" else None)

        def step() -> None:
            with autocast_context(device_type, precision):
                loss = _loss(fn(x), target)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            opt.zero_grad(set_to_none=True)

        context: Callable[[], ContextManager] = contextlib.nullcontext
    else:
        model.eval()

        def step() -> None:
            fn(x)

        context = _inference_context(device_type, precision)

    compile_s = None
    if compile:
        t0 = time.perf_counter()
        with context():
            step()
        sync()
        compile_s = time.perf_counter() - t0
    return PreparedStep(step=step, context=context, compile_s=compile_s)
