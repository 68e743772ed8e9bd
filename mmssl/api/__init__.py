"""The Python API: load a checkpoint, embed sentences, videos and sounds, compare them.

- :mod:`~mmssl.api.model`: :func:`load` and :class:`Model` (``embed_text``,
  ``embed_video``, ``embed_audio``, ``embed_spans``, ``similarity``, ``spaces``);
- :mod:`~mmssl.api.embeddings`: :class:`Embeddings` and how two sets are scored;
- :mod:`~mmssl.api.raw_media`: raw files and arrays prepared in memory as prep does;
- :mod:`~mmssl.api.collection`: ``mmssl embed --videos``, a folder of videos embedded
  span by span, resumable, to safetensors.

``docs/api.md`` is the guide, with examples the test suite runs.
"""

from mmssl.api.embeddings import Embeddings
from mmssl.api.model import Model, load

__all__ = ["Embeddings", "Model", "load"]
