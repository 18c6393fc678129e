"""The modules that are exported: a model with flat tensor outputs, and MoViNet's stream step.

Runtimes take and return flat lists of tensors, so both wrappers fix the order once:

- ``ClipModel``: ``clip -> logits`` (one tensor), or ``logits_<head>`` per named head in sorted
  head order (EPIC-KITCHENS ``verb``/``noun``).
- ``StreamStep``: MoViNet's causal stream mode with its state as explicit inputs and outputs:
  ``(frames_chunk, *state) -> (logits, *new_state)``, state tensors in ``state_names`` order
  (the sorted keys of ``model.init_state``). A phone app keeps the returned state and feeds it
  back with the next frame; zeros (``init_state``) start or reset a stream.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

__all__ = ["ClipModel", "StreamStep", "output_names"]


def output_names(num_classes: int | dict[str, int], prefix: str = "logits") -> list[str]:
    """Names of the flat outputs for a classifier width or named widths."""
    if isinstance(num_classes, dict):
        return [f"{prefix}_{k}" for k in sorted(num_classes)]
    return [prefix]


def _flat(out: torch.Tensor | dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    return tuple(out[k] for k in sorted(out)) if isinstance(out, dict) else (out,)


class ClipModel(nn.Module):
    """``model`` with its outputs as a tuple (``output_names`` order)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, clip: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return _flat(self.model(clip))


class StreamStep(nn.Module):
    """One step of a causal MoViNet stream with explicit state (see the module docstring).

    Args:
        model: a MoViNet built with ``causal=True``.
        batch_size, height, width: the fixed shapes of the exported step.
    """

    def __init__(self, model: nn.Module, batch_size: int, height: int, width: int) -> None:
        super().__init__()
        if not getattr(model, "causal", False):
            raise ValueError(
                "stream export needs a causal MoViNet (create_model(..., causal=True))")
        self.model = model
        self.batch_size, self.height, self.width = batch_size, height, width
        self.state_names = sorted(self.initial_state())

    def initial_state(self) -> dict[str, torch.Tensor]:
        """The zero state that starts a stream."""
        return self.model.init_state(self.batch_size, self.height, self.width)

    def state_inputs(self) -> tuple[torch.Tensor, ...]:
        init = self.initial_state()
        return tuple(init[k] for k in self.state_names)

    def forward(self, chunk: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits, new_state = self.model.forward_stream(chunk, dict(zip(self.state_names, state)))
        return _flat(logits) + tuple(new_state[k] for k in self.state_names)

    def describe(self) -> dict[str, Any]:
        init = self.initial_state()
        return {k: list(init[k].shape) for k in self.state_names}
