"""Encoders, one per modality, registered by name.

Every encoder is an ``nn.Module`` with ``forward(x) -> (B, out_dim)`` and an ``out_dim``
attribute. Importing this package registers them::

    from mmssl.models import VIDEO_ENCODERS
    encoder = VIDEO_ENCODERS.build("tiny3d", width=32)
"""

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
