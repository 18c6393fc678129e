"""Deployment-speed forms of the models: ``litevid.optimize(model)``.

(The package is ``optimization``, not ``optimize``, so that importing it never shadows the
``litevid.optimize`` function.)

- ``api.py``: ``optimize`` (batch-norm folding, one-pass temporal shift, the measured memory-layout
  rule, optional ``torch.compile`` and CUDA graphs) and the ``OptimizedModel`` it returns.
- ``fuse.py``: batch-norm folding from the model's data flow (also used by the exporters).
- ``rewrite.py``: the other function-preserving rewrites: 3D ops via 2D (``Conv3dVia2d``,
  ``Pool3dVia2d``), in-place activations, oneDNN linears with fused GELU (``OneDNNLinear``).

The plain eager model stays the default everywhere (it is what the study measured);
``litevid bench --optimize`` measures this form as its own rows.
"""

from .api import (
    CONV_SHARE_FOR_CHANNELS_LAST,
    OptimizedModel,
    OptimizeReport,
    choose_layout,
    conv_share,
    optimize,
)
from .fuse import fold_batchnorm

__all__ = ["CONV_SHARE_FOR_CHANNELS_LAST", "OptimizeReport", "OptimizedModel", "choose_layout",
           "conv_share", "fold_batchnorm", "optimize"]
