"""litevid: lightweight video action recognition models, measured for real cost.

The public names are imported lazily, so ``import litevid.results`` (and the reports built on the
results store) work without importing torch.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("litevid")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+local"

_LAZY = {
    "ModelSpec": "litevid.models",
    "create_model": "litevid.models",
    "list_models": "litevid.models",
    "model_spec": "litevid.models",
    "count_flops": "litevid.bench.flops",
    "optimize": "litevid.optimization",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # for type checkers and IDEs
    from .bench.flops import count_flops
    from .models import ModelSpec, create_model, list_models, model_spec
    from .optimization import optimize


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'litevid' has no attribute {name!r}")
