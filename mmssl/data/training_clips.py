"""MIL-NCE training clips, made in two steps: a plan, then its materialisation.

A :class:`ClipPlan` holds every choice behind a clip — which sample, which anchor
narration and which K − 1 neighbours as candidates (:func:`candidate_window`), where the
clip starts (:func:`clip_start`), and with ``views=2`` the second view's start and both
crop boxes. Planning reads the sample's JSON member only (the mp4 is not even opened) and
makes every random draw, the crop box included (:mod:`mmssl.data.augment`: a random crop
of ``crop_size`` from the frames scaled to cover it, drawn from the frame size in the JSON
member). Materialising a plan opens the mp4, decodes the frames and the audio under the
clip, crops them, computes the log-mel and tokenises the candidates; it draws nothing, so a
clip depends on its plan alone.

The split lets a resumed stream replay the plans of the batches already trained on — tar
reading and random draws — and decode only what it yields. The draws are made in the same
order as when clips were built in one step, so the clips are the same too.

A clip (one item of the batch contract): ``video`` (3, T, h, w) uint8 with (h, w) =
``crop_size``, ``audio`` (1, n_mels, frames) log-mel, ``audio_mask`` bool, ``text`` (K, L)
int64 with the anchor narration at k = 0, ``text_mask`` (K,) bool, ``meta``; with
``views=2`` also ``video_view2``, both views random resized crops.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from mmssl.config import DataConfig
from mmssl.data.augment import CropBox, cover_crop_box, random_resized_box
from mmssl.data.candidates import candidate_window, clip_start
from mmssl.data.clips import ClipCutter, OpenSample
from mmssl.data.shards import ShardSample, SkipCounter
from mmssl.data.tokenizer import WordTokenizer
from mmssl.media import ClipReader
from mmssl.shard_format import clip_key


@dataclass(frozen=True)
class ClipPlan:
    """Everything that decides one training clip, before anything is decoded.

    ``sample`` is the shard sample (shared by the plans of one sample); ``texts`` the
    candidate narrations, anchor first; ``start`` the clip's start in the sample, seconds;
    ``meta`` the clip's batch meta (key, video_id, start in the source, anchor); ``crops``
    each view's crop box. With two views, ``second_start`` is the second view's start.
    """

    sample: ShardSample
    texts: tuple[str, ...]
    start: float
    meta: dict
    crops: tuple[CropBox, ...]
    second_start: float | None = None


class TrainingClips:
    """Per sample, ``clips_per_sample`` anchor narrations, each with its K neighbouring
    candidates and the clip cut around it: :meth:`plans`, then :meth:`materialise`."""

    def __init__(self, config: DataConfig, tokenizer: WordTokenizer):
        if config.views not in (1, 2):
            raise ValueError(f"data.views must be 1 or 2, got {config.views}")
        self.config = config
        self.tokenizer = tokenizer
        self.cutter = ClipCutter.from_config(config)

    def plans(self, samples: Iterator[ShardSample], rng: random.Random,
              skip: SkipCounter) -> Iterator[ClipPlan]:
        """The plans of each sample's clips; a sample without a narration inside it is
        skipped and counted."""
        for sample in samples:
            texts = [t for t in sample.meta["texts"] if t["start"] < sample.duration]
            if not texts:
                skip("no_narration", sample.where)
                continue
            anchors = rng.sample(range(len(texts)), min(self.config.clips_per_sample, len(texts)))
            # All of a sample's draws before its first plan is handed on: the shuffle buffer
            # downstream draws from the same RNG each time it takes an item.
            yield from [self._plan(sample, texts, anchor, rng) for anchor in anchors]

    def _plan(self, sample: ShardSample, texts: list[dict], anchor: int,
              rng: random.Random) -> ClipPlan:
        first, last = candidate_window([t["start"] for t in texts], [t["end"] for t in texts],
                                       anchor, self.config.num_candidates)
        # The anchor goes first: K = 1 methods (CLIP, AVLnet) read candidate 0 only.
        others = [i for i in range(first, last + 1) if i != anchor]
        span = (texts[anchor]["start"], texts[anchor]["end"])
        clip_seconds = self.cutter.clip_seconds(sample.fps)
        start = clip_start(*span, clip_seconds, sample.duration, rng)
        frame = (int(sample.meta["height"]), int(sample.meta["width"]))
        size, second = self.config.crop_size, None
        if self.config.views == 2:
            # Two views: each its own start inside the anchor's span and its own crop.
            second = clip_start(*span, clip_seconds, sample.duration, rng)
            scale = self.config.crop_scale
            crops = (random_resized_box(*frame, size, scale, rng),
                     random_resized_box(*frame, size, scale, rng))
        else:
            crops = (cover_crop_box(*frame, size, rng),)
        video_id = sample.meta["video_id"]
        absolute = sample.meta["start"] + start
        meta = {"key": clip_key(video_id, absolute), "video_id": video_id, "start": absolute,
                "anchor": texts[anchor]["text"]}
        return ClipPlan(sample, tuple(texts[i]["text"] for i in [anchor, *others]), start, meta,
                        crops, second)

    def materialise(self, plan: ClipPlan) -> dict:
        """Decode and compute the clip ``plan`` describes. Raises :class:`MediaError` when
        its mp4 does not open, its frames or audio cannot be decoded, or its frames are not
        the size its JSON member gives."""
        k = self.config.num_candidates
        text = torch.zeros(k, self.config.max_words, dtype=torch.long)
        text[: len(plan.texts)] = self.tokenizer(list(plan.texts), self.config.max_words)
        with ClipReader(plan.sample.media) as reader:
            sample = OpenSample(reader, plan.sample.meta, plan.sample.where)
            audio, has_audio = self.cutter.audio(sample, plan.start)
            clip = {"video": self._video(sample, plan.start, plan.crops[0]), "audio": audio,
                    "audio_mask": has_audio, "text": text,
                    "text_mask": torch.arange(k) < len(plan.texts), "meta": plan.meta}
            if plan.second_start is not None:
                clip["video_view2"] = self._video(sample, plan.second_start, plan.crops[1])
        return clip

    def _video(self, sample: OpenSample, start: float, box: CropBox) -> torch.Tensor:
        return self.cutter.checked_video(sample, start, box)
