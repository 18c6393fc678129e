"""X3D-XS: pytorchvideo's ``create_x3d`` / ``hub.x3d_xs``, its ``X3D_XS.pyth`` layout.

The hub file is ``{"model_state": state_dict}`` (``pytorchvideo.models.hub.x3d._x3d`` reads
``checkpoint["model_state"]``), saved as ``.pyth``. pytorchvideo's head ends in a softmax by
default; the builders pass ``head_activation=None`` so the original returns logits (the weights
do not change).

Reduced configuration: width factor 0.5 (stem and stage 1 both 8 channels, so pytorchvideo's
missing stage-1 shortcut BN is exercised), depth factor 0.5 (1, 1, 3, 2 blocks: SE on blocks 0,
2), head width 32, 10 classes, a 4x48x48 clip (2x2 positions reach the head's pool; 48 is not
a multiple of the stride 32, so the odd-size padding is compared too). Full size: pytorchvideo's
``x3d_xs`` at its published input, 4x160x160. Both: classifier weights of std 1/sqrt(fan_in)
and a random colour per frame, so the logits depend on the clip (see ``common.spread_classifier``,
``_clip``).
"""

from __future__ import annotations

from .common import (Built, Fixture, randomize_, spread_classifier, stub_fvcore_deps,
                     varied_clip)


def build(full: bool) -> Built:
    stub_fvcore_deps()
    from pytorchvideo.models.hub.x3d import x3d_xs
    from pytorchvideo.models.x3d import create_x3d

    if full:
        peer = x3d_xs(pretrained=False, head_activation=None)
        frames, size, args = 4, 160, dict(num_classes=400)
    else:
        cfg = dict(width_factor=0.5, depth_factor=0.5, head_dim_out=32, model_num_class=10)
        peer = create_x3d(input_clip_length=4, input_crop_size=48, head_activation=None, **cfg)
        frames, size = 4, 48
        args = dict(num_classes=10, width_factor=0.5, depth_factor=0.5, head_dim=32)
    randomize_(peer, seed=1)
    spread_classifier(peer.blocks[5].proj, seed=3)
    x = varied_clip(2, frames, size, seed=2)
    return Built(peer=peer, saved={"model_state": peer.state_dict()}, x=x, model_args=args)


FIXTURES = [
    Fixture(name="x3d_xs_pytorchvideo", layout="pytorchvideo-x3d", model="x3d_xs",
            source="pytorchvideo.models.x3d.create_x3d (pytorchvideo hub x3d_xs, X3D_XS.pyth)",
            build=build, suffix=".pyth"),
]
