"""Video and text towers from a local HuggingFace CLIP directory (what ``save_pretrained``
writes for a ``CLIPModel``): image-text models used for video, zero-shot or as the start of
training.

Radford et al., "Learning Transferable Visual Models From Natural Language Supervision",
ICML 2021 (CLIP); Luo et al., "CLIP4Clip: An Empirical Study of CLIP for End to End Video
Clip Retrieval", 2021, whose parameter-free "meanP" similarity is the video tower here::

    e_t   = P_v · ViT(frame_t) / ‖P_v · ViT(frame_t)‖     each frame through CLIP's image
                                                          tower and projection, normalised
    z_v   = (1/T) Σ_t e_t                                 (B, D), D = projection_dim
    z_txt = P_t · Transformer(text)[EOS]                  (B, D), CLIP's text embedding

so scoring cosine similarities of z_v and z_txt (``loss.normalize=true``, the space's
heads the identity) is CLIP4Clip's meanP. Frames must be CLIP's resolution
(``vision_config.image_size``) and normalised with its processor's mean and std, which
``mmssl convert clip`` writes into ``data.crop_size`` and ``model.video_mean/video_std``.
Text ids come from the directory's own tokenizer (:class:`~mmssl.data.tokenizer.
SubwordTokenizer`, via ``model.hf_text_dir``).

Each tower loads the whole CLIP and keeps its half, under CLIP's own names
(``model.vision_model.*``, ``model.visual_projection.*``; ``model.text_model.*``,
``model.text_projection.*``). The path may instead name a ``.json`` file, the half's own
config (what :func:`mmssl.models.hf_text.save_architecture` writes into a checkpoint): the
half is then built with fresh weights, for the checkpoint's to replace.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from mmssl.models.hf_text import (
    HFModule,
    check_hf_directory,
    is_architecture_file,
    model_inputs,
)
from mmssl.models.registries import TEXT_ENCODERS, VIDEO_ENCODERS


def clip_half(path: str, half: str) -> nn.Module:
    """CLIP's ``"vision"`` or ``"text"`` tower with its projection, as a transformers
    model (``CLIP{Vision,Text}ModelWithProjection``) holding the directory's weights."""
    from transformers import (
        CLIPModel,
        CLIPTextModelWithProjection,
        CLIPVisionModelWithProjection,
    )

    cls = CLIPVisionModelWithProjection if half == "vision" else CLIPTextModelWithProjection
    if is_architecture_file(path):
        return cls(cls.config_class.from_json_file(str(path)))
    clip = CLIPModel.from_pretrained(str(check_hf_directory(path)), local_files_only=True)
    config = clip.config.vision_config if half == "vision" else clip.config.text_config
    config.projection_dim = clip.config.projection_dim
    model = cls(config)
    prefixes = (f"{half}_model.", "visual_projection." if half == "vision"
                else "text_projection.")
    model.load_state_dict({key: value for key, value in clip.state_dict().items()
                           if key.startswith(prefixes)})
    return model


@VIDEO_ENCODERS.register("clip_video")
class CLIPVideoEncoder(HFModule):
    """Input ``(B, 3, T, S, S)`` frames normalised with CLIP's statistics, S its image
    size; output ``(B, projection_dim)``: the mean of the L2-normalised projected frame
    embeddings (CLIP4Clip's meanP)."""

    def __init__(self, path: str, freeze: bool = False,
                 gradient_checkpointing: bool = False) -> None:
        super().__init__(clip_half(path, "vision"), freeze, gradient_checkpointing)
        self.out_dim = self.model.config.projection_dim

    def forward(self, video: Tensor) -> Tensor:
        """``(B, 3, T, S, S)`` -> ``(B, projection_dim)``."""
        batch, channels, frames, height, width = video.shape
        images = video.transpose(1, 2).reshape(batch * frames, channels, height, width)
        embeds = self.model(pixel_values=images).image_embeds
        return F.normalize(embeds, dim=-1).view(batch, frames, -1).mean(dim=1)


@TEXT_ENCODERS.register("clip_text")
class CLIPTextEncoder(HFModule):
    """Input ``(B, L)`` ids from the CLIP directory's tokenizer (model id + 1, 0 =
    padding); output ``(B, projection_dim)``, CLIP's text embedding (zeros for an empty
    row)."""

    def __init__(self, path: str, freeze: bool = False,
                 gradient_checkpointing: bool = False) -> None:
        super().__init__(clip_half(path, "text"), freeze, gradient_checkpointing)
        self.pad_id = self.model.config.pad_token_id or 0
        self.out_dim = self.model.config.projection_dim

    def forward(self, tokens: Tensor) -> Tensor:
        """``(B, L)`` long -> ``(B, projection_dim)``."""
        ids, attend, empty = model_inputs(tokens, self.pad_id)
        embeds = self.model(input_ids=ids, attention_mask=attend).text_embeds
        return embeds.masked_fill(empty[:, None], 0.0)
