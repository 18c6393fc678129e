"""What a fixture builder returns, and the helpers every builder shares.

A builder constructs the *original* implementation (torchvision, pytorchvideo, Hugging Face,
the official repositories, the MoViNet port in ``../shared/peers``) at a reduced configuration
(``full=False``: fewer blocks, narrower, a small clip) or at the published size (``full=True``),
with random weights and random normalisation statistics, and returns what the published
checkpoint file would hold (same keys, same wrapper), an input clip and the original's forward.
Nothing from an original implementation is copied into litevid: builders only import it.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parents[2]  # the repository
SHARED = ROOT.parent / "shared"
# Official repositories that have no package are unpacked here (outside the repository) from
# their public snapshots; override with LITEVID_PEER_SRC.
PEER_SRC = Path(os.environ.get("LITEVID_PEER_SRC", ROOT.parent / "peer_src"))


@dataclass
class Built:
    """One original model, ready to compare.

    Attributes:
        peer: the original's forward in eval mode, returning the logits ``(B, classes)``.
        saved: what the published file holds: the original's state dict in its own key layout,
            in its release wrapper (e.g. ``{"state_dict": sd, "meta": {}}``, ``{"model_state":
            sd}``). A ``.safetensors`` fixture saves a flat dict of tensors.
        x: the input clip ``(B, C, T, H, W)`` litevid's model takes.
        model_args: ``litevid.create_model`` keyword arguments for the same configuration,
            ``num_classes`` included (JSON-serialisable: tuples become lists, dict keys strings
            are turned back by the test).
        peer_x: the same clip in the original's input convention when it differs (e.g. Hugging
            Face's ``(B, T, C, H, W)``); ``None`` means ``x``.
    """

    peer: Callable[[torch.Tensor], torch.Tensor]
    saved: Any
    x: torch.Tensor
    model_args: dict[str, Any]
    peer_x: torch.Tensor | None = None


@dataclass
class Fixture:
    """One checkpoint layout to prove.

    Attributes:
        name: file stem under ``tests/fixtures/weights/``.
        layout: the ``litevid.models._layouts`` name litevid must recognise.
        model: the litevid registry name the file loads into.
        source: the original implementation, e.g. ``"torchvision.models.video.swin3d_t"``.
        build: ``build(full)`` -> ``Built``; ``full=True`` at the published size.
        suffix: file suffix of the weights (``.pth``, ``.pyth``, ``.safetensors``).
        rtol: the parity bound the test asserts (max |a - b| / max |b| over the logits).
    """

    name: str
    layout: str
    model: str
    source: str
    build: Callable[[bool], Built]
    suffix: str = ".pth"
    rtol: float = 1e-5
    extra: dict[str, Any] = field(default_factory=dict)  # recorded in the sidecar as is


def randomize_(model: nn.Module, seed: int = 0, scale: float = 0.02) -> nn.Module:
    """Give every floating tensor of ``model`` a random value that keeps activations finite.

    Weights keep their initialisation (already random) unless they are constant (zeros, ones:
    position embeddings, ReZero scales, zero-initialised projections, LayerNorm/BN affine),
    which get ``scale``-sized noise (norm weights: around 1). BatchNorm running statistics get
    random means and variances in [0.5, 1.5], so a converter that swaps or drops them fails.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith("running_mean"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif t.numel() > 0 and bool((t == t.flatten()[0]).all()):  # constant: re-randomise
                base = 1.0 if float(t.flatten()[0]) == 1.0 else 0.0
                t.copy_(base + torch.randn(t.shape, generator=g) * (0.1 if base else scale))
    return model.eval()


def peer_import_path(path: Path) -> None:
    """Put ``path`` (an unpacked original repository) first on ``sys.path``; a clear error when
    it is absent."""
    if not path.is_dir():
        raise SystemExit(f"{path}: the original repository is not unpacked there (see "
                         "tools/make_weight_fixtures.py for how to get it)")
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|: the parity figure of every fixture."""
    a, b = a.double(), b.double()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def stub_module(name: str, path: Path | None = None, replace: bool = True, **attrs: Any) -> None:
    """Put a stand-in module ``name`` into ``sys.modules`` (a package searched at ``path`` when
    given; with a spec, which ``torch._dynamo`` looks up). ``replace=False``: only when ``name``
    cannot be imported. For imports of an original's code that take no part in building or
    running its model (loggers, registries, download locks)."""
    if not replace and (name in sys.modules or importlib.util.find_spec(name) is not None):
        return
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=path is not None)
    if path is not None:
        module.__path__ = [str(path)]
        module.__spec__.submodule_search_locations = [str(path)]
    module.__dict__.update(attrs)
    sys.modules[name] = module


def stub_fvcore_deps() -> None:
    """pytorchvideo, SlowFast and the MoViNet port import fvcore and iopath, which import
    ``portalocker`` (file locks for downloads), ``termcolor`` and ``tabulate`` (log colours,
    statistics tables) at import time; stand-ins only where the peers venv lacks them."""
    stub_module("portalocker", replace=False)
    stub_module("termcolor", replace=False, colored=lambda text, *args, **kwargs: text)
    stub_module("tabulate", replace=False, tabulate=lambda *args, **kwargs: "")


def spread_classifier(fc: nn.Module, seed: int) -> None:
    """Classifier weights of std 1/sqrt(fan_in) instead of a release's tiny init (0.001, 0.01):
    with those the random bias outweighs what the network contributes and the logits would
    hardly depend on the clip."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        fc.weight.copy_(torch.randn(fc.weight.shape, generator=g) * fc.in_features ** -0.5)


def varied_clip(batch: int, frames: int, size: int, seed: int) -> torch.Tensor:
    """Noise plus a random colour per frame: global pooling of plain noise gives almost the same
    features for every clip and frame, so neither the classifier nor the temporal mixing would
    show in the logits."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 3, frames, size, size, generator=g)
            + torch.randn(batch, 3, frames, 1, 1, generator=g))
