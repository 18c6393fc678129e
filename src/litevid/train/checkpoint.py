"""Training checkpoints: everything needed to continue a run exactly, written atomically.

A checkpoint is one ``torch.save`` file holding the model, optimizer, grad scaler and LR
scheduler states, every RNG state of every process (python, numpy, torch CPU, and the generator
of the process's own device: ``rng_per_rank[r]`` is rank ``r``'s, gathered when the checkpoint is
written, so each rank of a resumed DDP run continues its own streams), the position in the run
(epoch, optimizer step, micro-batches done in the epoch), the best validation metric so far, the
history, the resolved ``TrainConfig`` and the litevid version. It is written to a temporary file
and renamed (``utils.io.atomic_open``), so a run killed while saving keeps its previous
checkpoint intact.

Loading uses ``torch.load(weights_only=True)``: only tensors, containers and primitive values
are unpickled, plus the classes in ``SAFE_GLOBALS`` (none are needed today: RNG states are
stored as tensors and lists, configs as dicts). A file holding anything else is refused with an
error naming it.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..models._weights import torch_load
from ..utils.io import atomic_open

if TYPE_CHECKING:
    from ..devices import DeviceBackend

__all__ = ["CHECKPOINT_FORMAT", "SAFE_GLOBALS", "capture_rng", "load_checkpoint",
           "restore_rng", "save_checkpoint"]

CHECKPOINT_FORMAT = "litevid-train-checkpoint/1"
# Classes allowed beyond tensors, containers and primitives when a checkpoint is unpickled.
SAFE_GLOBALS: list[Any] = []


def capture_rng(device: DeviceBackend | None = None) -> dict[str, Any]:
    """Every RNG state of this process, as tensors and plain lists (``weights_only``-safe):
    Python, numpy, torch's CPU generator and ``device``'s own generator (this process's GPU)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": [list(x) if isinstance(x, tuple) else x for x in random.getstate()],
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "torch": torch.get_rng_state(),
    }
    device_state = device.rng_state() if device is not None else None
    if device_state is not None:
        state["device"] = {"type": device.type, "state": device_state}
    return state


def restore_rng(state: dict[str, Any], device: DeviceBackend | None = None) -> None:
    """Put back what ``capture_rng`` saved; the device generator's state goes to ``device``
    when it is of the same type (a run resumed on another kind of device continues without
    it)."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    saved = state.get("device")
    if device is None:
        return
    if saved is not None and saved["type"] == device.type:
        device.set_rng_state(saved["state"])
    elif device.type == "cuda" and len(state.get("cuda") or []) > device.index:
        device.set_rng_state(state["cuda"][device.index])  # checkpoints before rng_per_rank


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (see the module docstring) to ``path`` atomically."""
    with atomic_open(path, "wb") as f:
        torch.save({"format": CHECKPOINT_FORMAT, **payload}, f)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a litevid training checkpoint safely; a clear ``ValueError`` for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    with torch.serialization.safe_globals(SAFE_GLOBALS):
        obj = torch_load(path, "litevid checkpoint")
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a litevid training checkpoint (format "
                         f"{obj.get('format') if isinstance(obj, dict) else type(obj).__name__!r};"
                         f" expected {CHECKPOINT_FORMAT})")
    return obj
