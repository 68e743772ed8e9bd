"""Video Swin Transformer (torchvision's ``SwinTransformer3d``), real and tiny.

Liu et al., "Video Swin Transformer", CVPR 2022: 3D patch embedding (2×4×4 patches),
then stages of shifted-window self-attention over local 3D windows, with patch merging
(2×2 in space) between stages. The features are the final LayerNorm's output averaged
over all (T', H', W') positions: ``out_dim = embed_dim · 2^(stages-1)`` (768 for Swin3D-T).
"""

from __future__ import annotations

from torch import Tensor, nn
from torchvision.models.video.swin_transformer import SwinTransformer3d

from mmssl.models.checkpointing import run_stages
from mmssl.models.registries import VIDEO_ENCODERS


class Swin3DEncoder(nn.Module):
    """Input ``(B, 3, T, H, W)``; output ``(B, out_dim)``.

    Any T, H, W work (torchvision pads to whole windows and shrinks a window that is
    larger than the feature map). Module names match ``torchvision.models.video.swin3d_t``
    with ``head`` dropped, so its state dicts load.
    """

    def __init__(self, embed_dim: int, depths, num_heads, window_size, patch_size=(2, 4, 4),
                 stochastic_depth_prob: float = 0.1,
                 gradient_checkpointing: bool = False) -> None:
        super().__init__()
        self.backbone = SwinTransformer3d(
            patch_size=list(patch_size), embed_dim=embed_dim, depths=list(depths),
            num_heads=list(num_heads), window_size=list(window_size),
            stochastic_depth_prob=stochastic_depth_prob)
        self.backbone.head = nn.Identity()
        self.out_dim = self.backbone.num_features
        self.gradient_checkpointing = gradient_checkpointing

    def forward(self, video: Tensor) -> Tensor:
        """``(B, 3, T, H, W)`` -> ``(B, out_dim)``."""
        b = self.backbone
        x = b.pos_drop(b.patch_embed(video))  # (B, T', H', W', C)
        x = run_stages(b.features, x, self.gradient_checkpointing)
        return b.norm(x).mean(dim=(1, 2, 3))


@VIDEO_ENCODERS.register("swin3d_t")
def swin3d_t(gradient_checkpointing: bool = False) -> Swin3DEncoder:
    """Swin3D-T (torchvision ``swin3d_t``): C = 96, depths 2-2-6-2, 8×7×7 windows; 768-d,
    27.9M parameters."""
    return Swin3DEncoder(96, (2, 2, 6, 2), (3, 6, 12, 24), (8, 7, 7),
                         gradient_checkpointing=gradient_checkpointing)


@VIDEO_ENCODERS.register("swin3d_tiny")
def swin3d_tiny(width: int = 16, gradient_checkpointing: bool = False) -> Swin3DEncoder:
    """Swin3D with C = ``width`` (a multiple of 8), depths 2-2-2-2, heads of 8 channels at
    every stage, 2×4×4 windows; ``out_dim = 8 · width``."""
    if width < 8 or width % 8:
        raise ValueError(f"swin3d_tiny: width must be a positive multiple of 8, got {width}")
    heads = tuple(width * 2**i // 8 for i in range(4))
    return Swin3DEncoder(width, (2, 2, 2, 2), heads, (2, 4, 4),
                         gradient_checkpointing=gradient_checkpointing)
