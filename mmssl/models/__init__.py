"""Encoders, one per modality, registered by name.

Every encoder is an ``nn.Module`` with ``forward(x) -> (B, out_dim)`` and an ``out_dim``
attribute. Importing this package registers them::

    from mmssl.models import VIDEO_ENCODERS
    encoder = VIDEO_ENCODERS.build("tiny3d", width=32)
    VIDEO_ENCODERS.list()   # every registered name

Families (one file each; ``*_tiny`` variants keep the layout at a small width):

- video: ``tiny3d``; ``s3d`` (torchvision's S3D); ``s3dg`` (MIL-NCE's released S3D-G),
  ``s3dg_conv7``; ``r3d_18``, ``mc3_18``, ``r2plus1d_18``; ``swin3d_t``; ``tsm_resnet50``
  (MMV); ``framewise_resnet50``; ``clip_video`` (a local HuggingFace CLIP's image tower
  on every frame, CLIP4Clip's meanP).
- audio (log-mel): ``tiny_audio``; ``audio_resnet18``, ``audio_resnet50`` (MMV);
  ``resdavenet`` (AVLnet); ``davenet`` (Harwath et al. 2018); ``audio_transformer``.
- text: ``word_maxpool`` (MMV-style, optional frozen word vectors); ``milnce_text``
  (MIL-NCE's released text tower, AVLnet's); ``hf`` (a local HuggingFace transformers
  directory); ``clip_text`` (a local HuggingFace CLIP's text tower).
"""

from mmssl.models import (  # noqa: F401  (importing registers the encoders)
    audio_resnet,
    audio_transformer,
    clip_towers,
    davenet,
    hf_text,
    milnce_text,
    resdavenet,
    s3d,
    s3dg,
    swin3d,
    video_frames,
    video_resnets,
)
from mmssl.models.audio import TinyAudioEncoder
from mmssl.models.registries import AUDIO_ENCODERS, TEXT_ENCODERS, VIDEO_ENCODERS
from mmssl.models.text import WordMaxPoolEncoder
from mmssl.models.video import Tiny3DEncoder

__all__ = [
    "AUDIO_ENCODERS",
    "TEXT_ENCODERS",
    "VIDEO_ENCODERS",
    "Tiny3DEncoder",
    "TinyAudioEncoder",
    "WordMaxPoolEncoder",
]
