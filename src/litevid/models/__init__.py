"""Model families. Importing a family file registers its variants (``@register_model``)."""

import importlib
import pkgutil

from ._base import VideoModel, to_channels_last
from ._registry import InitSpec, ModelSpec, create_model, list_models, model_spec, register_model
from ._weights import LoadReport

# Every family file of this folder (names without a leading underscore) is imported here, in
# sorted order, and each import fills the registry: adding a family is adding its file.
for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = [
    "InitSpec",
    "LoadReport",
    "ModelSpec",
    "VideoModel",
    "create_model",
    "list_models",
    "model_spec",
    "register_model",
    "to_channels_last",
]
