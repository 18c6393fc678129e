"""Model families. Importing a family file registers its variants; add a new family here."""

from ._base import VideoModel, to_channels_last
from ._registry import InitSpec, ModelSpec, create_model, list_models, model_spec, register_model
from ._weights import LoadReport

# Family files, in the order of the study's Table 1 (each import fills the registry).
from . import resnet_family  # noqa: F401,E402  TSM-R50, NL-R50, TEA-R50
from . import i3d_bert  # noqa: F401,E402  I3D-BERT
from . import efficientnet  # noqa: F401,E402  EfficientNet-B0 trunk (no registered variant)
from . import vtn  # noqa: F401,E402  VTN-R50, VTN-EFF (composites)
from . import timesformer  # noqa: F401,E402  TimeSformer
from . import vivit  # noqa: F401,E402  ViViT-FE
from . import video_swin  # noqa: F401,E402  Swin-T
from . import mvit  # noqa: F401,E402  MViT-S
from . import x3d  # noqa: F401,E402  X3D-XS
from . import movinet  # noqa: F401,E402  MoViNet-A0, MoViNet-A2

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
