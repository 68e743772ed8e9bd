"""MIL-NCE training clips, made in two steps: a plan, then its materialisation.

A :class:`ClipPlan` holds every choice behind a clip — which sample, which anchor
narration and which K − 1 neighbours as candidates (:func:`candidates`, by the rule of
``data.candidates``), where the clip starts (:func:`clip_start`), and with ``views=2`` the
second view's start and both crop boxes. Planning reads the sample's JSON member only (the
mp4 is not even opened) and makes every random draw, the crop box included
(:mod:`mmssl.data.augment`: a random crop of ``crop_size`` from the frames scaled to cover
it, drawn from the frame size in the JSON member). Materialising a plan decodes the frames
and the audio under the clip, crops the frames and picks the candidates' token ids; it
draws nothing, so a clip depends on its plan alone.

What is done once per sample is done once per sample, not once per clip
(:class:`OpenSamples`): the mp4 is opened when the first of its plans is materialised and
closed after the last (opening an mp4 costs about as much as decoding a third of a
16-frame clip), and its narrations are tokenised in one call then. The log-mel and the
video normalisation are not done here at all: the method computes them on its device, in
batches (:meth:`mmssl.methods.towers.Towers.inputs`).

The split lets a resumed stream replay the plans of the batches already trained on — tar
reading and random draws — and decode only what it yields. The draws are made in the same
order as when clips were built in one step, so the clips are the same too.

A clip (one item of the batch contract): ``video`` (3, T, h, w) uint8 with (h, w) =
``crop_size``, ``audio`` (samples,) float32 waveform, ``audio_mask`` bool, ``text`` (K, L)
int64 with the anchor narration at k = 0, ``text_mask`` (K,) bool, ``meta``; with
``views=2`` also ``video_view2``, both views random resized crops.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from mmssl.config import DataConfig
from mmssl.data.augment import CropBox, training_crops
from mmssl.data.batching import BatchBuffers, BatchRow
from mmssl.data.candidates import candidate_rule, candidates, clip_start
from mmssl.data.clips import ClipCutter, OpenSample
from mmssl.data.shards import ShardSample, SkipCounter
from mmssl.data.tokenizer import WordTokenizer
from mmssl.media import ClipReader
from mmssl.shard_format import clip_key


@dataclass(frozen=True)
class ClipPlan:
    """Everything that decides one training clip, before anything is decoded.

    ``sample`` is the shard sample and ``narrations`` its narrations that start inside it
    (both shared by the plans of one sample, ``siblings`` of them); ``rows`` the candidate
    narrations' indices in ``narrations``, anchor first; ``start`` the clip's start in the
    sample, seconds; ``meta`` the clip's batch meta (key, video_id, start in the source,
    anchor); ``crops`` each view's crop box. With two views, ``second_start`` is the
    second view's start.
    """

    sample: ShardSample
    narrations: tuple[str, ...]
    rows: tuple[int, ...]
    start: float
    meta: dict
    crops: tuple[CropBox, ...]
    siblings: int = 1
    second_start: float | None = None

    @property
    def texts(self) -> tuple[str, ...]:
        """The candidate narrations, anchor first."""
        return tuple(self.narrations[row] for row in self.rows)


@dataclass
class _SampleState:
    sample: ShardSample  # held so that its id() is not reused while the state lives
    remaining: int
    reader: ClipReader | None = None
    token_ids: np.ndarray | None = None


def sample_crops(sample: ShardSample, config: DataConfig, rng: random.Random
                 ) -> tuple[CropBox, ...]:
    """Each view's crop box for a clip of ``sample`` (:func:`~mmssl.data.augment.
    training_crops`, from the frame size in its JSON member)."""
    return training_crops(int(sample.meta["height"]), int(sample.meta["width"]),
                          config.crop_size, config.views, config.crop_scale, rng)


def clip_meta(sample: ShardSample, start: float, **extra) -> dict:
    """A clip's batch meta: its key, video id and start in the source, and ``extra``."""
    video_id = sample.meta["video_id"]
    absolute = sample.meta["start"] + start
    return {"key": clip_key(video_id, absolute), "video_id": video_id, "start": absolute,
            **extra}


class OpenSamples:
    """The open mp4 and the narrations' token ids of every sample with plans still to be
    materialised, so each sample is opened and tokenised once whatever its clip count.

    A plan's sample stays open from its first materialised plan to its last one *done*
    (materialised, failed or replayed: :meth:`done` once per plan), so at most one reader
    per sample with plans in the shuffle buffer is open: about ``shuffle_buffer /
    clips_per_sample`` of them, ~1.4 MiB each at 298×224 after decoding.
    """

    def __init__(self, tokenizer: WordTokenizer, max_words: int):
        self.tokenizer, self.max_words = tokenizer, max_words
        self.states: dict[int, _SampleState] = {}

    def _state(self, plan: ClipPlan) -> _SampleState:
        key = id(plan.sample)
        if key not in self.states:
            self.states[key] = _SampleState(plan.sample, plan.siblings)
        return self.states[key]

    def reader(self, plan: ClipPlan) -> ClipReader:
        """The sample's open mp4 (opened now if this is its first clip)."""
        state = self._state(plan)
        if state.reader is None:
            state.reader = plan.sample.open_reader()
        return state.reader

    def token_ids(self, plan: ClipPlan) -> np.ndarray:
        """(len(narrations), max_words) int64 ids of the sample's narrations, tokenised
        once."""
        state = self._state(plan)
        if state.token_ids is None:
            state.token_ids = self.tokenizer(list(plan.narrations), self.max_words).numpy()
        return state.token_ids

    def done(self, plan: ClipPlan) -> None:
        """One of the sample's plans is done with; after the last, the mp4 is closed."""
        state = self._state(plan)
        state.remaining -= 1
        if state.remaining <= 0:
            if state.reader is not None:
                state.reader.close()
            del self.states[id(plan.sample)]

    def close(self) -> None:
        """Close every open mp4 (the stream stopped before their last plans)."""
        for state in self.states.values():
            if state.reader is not None:
                state.reader.close()
        self.states.clear()


class TrainingClips:
    """Per sample, ``clips_per_sample`` anchor narrations, each with its K neighbouring
    candidates and the clip cut around it: :meth:`plans`, then :meth:`materialise` (or
    :meth:`skip`) each plan exactly once."""

    def __init__(self, config: DataConfig, tokenizer: WordTokenizer):
        if config.views not in (1, 2):
            raise ValueError(f"data.views must be 1 or 2, got {config.views}")
        self.config = config
        self.cutter = ClipCutter.from_config(config)
        # Empty means the method's own; a stream built for a method gets it resolved
        # (mmssl.training.loop), one built from a DataConfig alone masks.
        self.rule = candidate_rule(config.candidates, "")
        self.open = OpenSamples(tokenizer, config.max_words)

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
            narrations = tuple(t["text"] for t in texts)
            # All of a sample's draws before its first plan is handed on: the shuffle buffer
            # downstream draws from the same RNG each time it takes an item.
            yield from [self._plan(sample, texts, narrations, anchor, len(anchors), rng)
                        for anchor in anchors]

    def _plan(self, sample: ShardSample, texts: list[dict], narrations: tuple[str, ...],
              anchor: int, siblings: int, rng: random.Random) -> ClipPlan:
        # The anchor goes first: K = 1 methods (CLIP, AVLnet) read candidate 0 only.
        chosen = candidates([t["start"] for t in texts], [t["end"] for t in texts], anchor,
                            self.config.num_candidates, self.rule)
        span = (texts[anchor]["start"], texts[anchor]["end"])
        clip_seconds = self.cutter.clip_seconds(sample.fps)
        start = clip_start(*span, clip_seconds, sample.duration, rng)
        # Two views: each its own start inside the anchor's span and its own crop.
        second = (clip_start(*span, clip_seconds, sample.duration, rng)
                  if self.config.views == 2 else None)
        crops = sample_crops(sample, self.config, rng)
        meta = clip_meta(sample, start, anchor=texts[anchor]["text"])
        return ClipPlan(sample, narrations, tuple(chosen), start, meta, crops, siblings,
                        second)

    def skip(self, plan: ClipPlan) -> None:
        """A plan replayed without being materialised (its batch was trained on)."""
        self.open.done(plan)

    def close(self) -> None:
        """Close the samples still open (the stream stopped before their last plans)."""
        self.open.close()

    def row_fields(self) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """``{field: (per-clip shape, dtype)}`` of the fields :meth:`materialise` writes
        straight into a batch's row: the video views, the candidates' token ids and masks."""
        shape = (3, self.config.clip_frames, *self.config.crop_size)
        views = ["video", "video_view2"][: self.config.views]
        k = self.config.num_candidates
        return {**{name: (shape, torch.uint8) for name in views},
                "text": ((k, self.config.max_words), torch.long), "text_mask": ((k,), torch.bool),
                "audio_mask": ((), torch.bool)}

    def materialise(self, plan: ClipPlan, row: BatchRow | None = None) -> dict:
        """Decode and cut the clip ``plan`` describes into ``row`` (a batch's row): the
        fields of :meth:`row_fields` and ``audio`` (its length follows the sample's frame
        rate); returned is ``meta`` and, with no row, the fields too. Raises
        :class:`MediaError` when its mp4 does not open, its frames or audio cannot be
        decoded, or its frames are not the size its JSON member gives; a
        :class:`ValueError` when its audio is not as long as the batch's earlier clips'
        (shards prepared at different frame rates)."""
        own = row is None
        buffers = BatchBuffers(1, self.row_fields()) if own else None
        row = buffers.row(0) if own else row
        try:
            sample = OpenSample(self.open.reader(plan), plan.sample.meta, plan.sample.where)
            candidates = len(plan.rows)
            text, mask = row.view("text"), row.view("text_mask")
            text[:candidates] = self.open.token_ids(plan)[list(plan.rows)]
            text[candidates:] = 0
            mask[:candidates], mask[candidates:] = True, False
            samples = (self.cutter.audio_samples(sample.fps),)
            try:
                audio = row.sized("audio", samples, torch.float32)
            except ValueError as error:  # a sample whose frame rate differs from the batch's
                raise ValueError(f"{plan.sample.where}: {error}") from error
            row.put("audio_mask", self.cutter.audio_into(sample, plan.start, audio))
            self.cutter.checked_video(sample, plan.start, plan.crops[0], row.view("video"))
            if plan.second_start is not None:
                self.cutter.checked_video(sample, plan.second_start, plan.crops[1],
                                          row.view("video_view2"))
        finally:
            self.open.done(plan)
        if own:
            return {**{name: tensor[0] for name, tensor in buffers.tensors.items()},
                    "meta": plan.meta}
        return {"meta": plan.meta}
