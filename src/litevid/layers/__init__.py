"""Blocks shared by two model families or more. Each is configurable by passing callables."""

from .attention import Attention, merge_heads, sdpa, split_heads
from .block import Block
from .classifier import ClassifierHead
from .conv_norm_act import ConvNormAct
from .drop_path import DropPath, drop_path
from .frames import fold_frames, unfold_frames
from .mlp import Mlp
from .padding import TFSameAvgPool3d, TFSamePad, tf_same_pads
from .patch_embed import PatchEmbed, TubeletEmbed
from .pos_embed import resample_pos_embed_1d, resample_pos_embed_2d
from .squeeze_excite import SqueezeExcite
from .temporal_transformer import TemporalTransformer
from .weight_init import init_cnn_weights, init_linear_normal, init_transformer_weights

__all__ = [
    "Attention",
    "Block",
    "ClassifierHead",
    "ConvNormAct",
    "DropPath",
    "Mlp",
    "PatchEmbed",
    "SqueezeExcite",
    "TFSameAvgPool3d",
    "TFSamePad",
    "TemporalTransformer",
    "TubeletEmbed",
    "drop_path",
    "fold_frames",
    "init_cnn_weights",
    "init_linear_normal",
    "init_transformer_weights",
    "unfold_frames",
    "merge_heads",
    "resample_pos_embed_1d",
    "resample_pos_embed_2d",
    "sdpa",
    "split_heads",
    "tf_same_pads",
]
