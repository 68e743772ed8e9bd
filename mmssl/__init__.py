"""mmssl: self-supervised representation learning across video, audio and text.

    import mmssl
    model = mmssl.load("runs/demo/checkpoint")      # any mmssl checkpoint directory
    model.similarity(model.embed_text(["whisk the eggs"]), model.embed_video("clip.mp4"))

``load``, ``Model`` and ``Embeddings`` (:mod:`mmssl.api`, ``docs/api.md``) are imported on
first use, so ``import mmssl`` stays cheap (no torch until then).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Embeddings", "Model", "__version__", "load"]

if TYPE_CHECKING:
    from mmssl.api import Embeddings, Model, load


def __getattr__(name: str):
    if name in ("Embeddings", "Model", "load"):
        import mmssl.api

        return getattr(mmssl.api, name)
    raise AttributeError(f"module 'mmssl' has no attribute {name!r}")
