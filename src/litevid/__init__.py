"""litevid: lightweight video action recognition models, measured for real cost."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("litevid")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+local"

from .bench.flops import count_flops
from .models import ModelSpec, create_model, list_models, model_spec

__all__ = ["ModelSpec", "__version__", "count_flops", "create_model", "list_models", "model_spec"]
