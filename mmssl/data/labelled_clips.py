"""Labelled training clips (one class per sample, for supervised contrastive learning),
made like the narrated ones in two steps: a plan, then its materialisation.

A shard sample of a classification dataset — a COIN step segment, an AudioSet clip — has
one class in its JSON member's ``labels`` under ``data.label_key`` (COIN ``task_id`` or
``step_id``; AudioSet ``indices``, a list that must hold one class). Per sample,
``clips_per_sample`` clips at random starts inside it; with ``views=2`` (video only) a
second start and both crop boxes, as for narrated clips. A :class:`LabelledPlan` is drawn
from the JSON member alone (:mod:`mmssl.data.training_clips` explains why: the stream
resumes by replaying plans without decoding); materialising it decodes the frames (or the
audio, with ``label_modality: audio``) and draws nothing.

What a sample may lack, and what happens:

- no label under ``label_key`` (or an empty list): an **error** naming the shard and the
  sample — SupCon on a dataset without that label is a configuration mistake, not bad
  data to skip;
- a label that is not an integer class id: an error, likewise;
- several classes (an AudioSet segment with two sounds): skipped and counted
  (``multi_label``); SupCon's L_out has one class per sample;
- no video (``label_modality: video``) or no audio (``audio``): skipped and counted;
- another ``labels.subset`` than ``data.label_subset`` when that is set: not used (a
  choice of split, not bad data; COIN's ``testing`` videos stay out of training).

A clip: ``video`` (3, T, h, w) uint8 (and ``video_view2``) or ``audio`` (samples,)
float32 waveform with ``audio_mask`` (the method computes the log-mel on its device);
``label`` int64; ``meta`` (key, video_id, start, label). A labelled sample has one clip
per plan and each plan opens its mp4 (unlike narrated samples, whose clips share one open
reader: ``clips_per_sample`` is usually 1 here).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from mmssl.config import DataConfig
from mmssl.data.augment import CropBox
from mmssl.data.batching import BatchRow
from mmssl.data.clips import ClipCutter, OpenSample
from mmssl.data.shards import ShardSample, SkipCounter
from mmssl.data.training_clips import clip_meta, sample_crops

LABEL_MODALITIES = ("video", "audio")


@dataclass(frozen=True)
class LabelledPlan:
    """Everything that decides one labelled clip: its ``sample``, class ``label``, ``start``
    (seconds in the sample), batch ``meta``, each view's crop box (video), and the second
    view's start with two views."""

    sample: ShardSample
    label: int
    start: float
    meta: dict
    crops: tuple[CropBox, ...] = ()
    second_start: float | None = None


def sample_label(sample: ShardSample, key: str, skip: SkipCounter) -> int | None:
    """The class of ``sample`` under ``labels[key]``; None (counted) for several classes;
    a ValueError naming the sample when it has none or it is not an integer id."""
    value = sample.meta.get("labels", {}).get(key)
    if isinstance(value, list):
        if len(value) > 1:
            skip("multi_label", f"{sample.where}: labels[{key!r}] = {value}")
            return None
        value = value[0] if value else None
    if value is None:
        raise ValueError(f"{sample.where}: no labels[{key!r}] (data.label_key): labelled "
                         f"clips need one class per sample; its labels are "
                         f"{sorted(sample.meta.get('labels', {}))}")
    if isinstance(value, bool) or not (isinstance(value, int)
                                       or (isinstance(value, str) and value.isdigit())):
        raise ValueError(f"{sample.where}: labels[{key!r}] = {value!r} is not an integer "
                         f"class id")
    return int(value)


class LabelledClips:
    """Per sample, ``clips_per_sample`` clips of its one class: :meth:`plans`, then
    :meth:`materialise` (the interface of
    :class:`~mmssl.data.training_clips.TrainingClips`)."""

    def __init__(self, config: DataConfig):
        if config.label_modality not in LABEL_MODALITIES:
            raise ValueError(f"data.label_modality must be one of {LABEL_MODALITIES}, got "
                             f"{config.label_modality!r}")
        if config.views not in (1, 2) or (config.views == 2
                                          and config.label_modality != "video"):
            raise ValueError(f"data.views={config.views}: labelled clips take 1 view, or 2 "
                             f"views of video")
        self.config = config
        self.cutter = ClipCutter.from_config(config)

    def plans(self, samples: Iterator[ShardSample], rng: random.Random,
              skip: SkipCounter) -> Iterator[LabelledPlan]:
        """The plans of each usable sample's clips (see the module docstring)."""
        config = self.config
        for sample in samples:
            if config.label_subset and \
                    sample.meta.get("labels", {}).get("subset") != config.label_subset:
                continue
            label = sample_label(sample, config.label_key, skip)
            if label is None:
                continue
            has = {"video": bool(sample.meta.get("num_frames")),
                   "audio": bool(sample.meta.get("has_audio"))}
            if not has[config.label_modality]:
                skip(f"no_{config.label_modality}", sample.where)
                continue
            # All of a sample's draws before its first plan is handed on (the shuffle
            # buffer downstream draws from the same RNG).
            yield from [self._plan(sample, label, rng) for _ in range(config.clips_per_sample)]

    def _start(self, sample: ShardSample, rng: random.Random) -> float:
        """A uniform start of a clip inside the sample (at 0 when the sample is shorter);
        an audio-only sample's duration is its span, its clip length that of the frames
        the prepared frame rate would give."""
        duration = (sample.duration if sample.meta.get("num_frames")
                    else float(sample.meta["end"]) - float(sample.meta["start"]))
        return rng.uniform(0.0, max(duration - self.cutter.clip_seconds(sample.fps), 0.0))

    def _plan(self, sample: ShardSample, label: int, rng: random.Random) -> LabelledPlan:
        start, crops, second = self._start(sample, rng), (), None
        if self.config.label_modality == "video":
            second = self._start(sample, rng) if self.config.views == 2 else None
            crops = sample_crops(sample, self.config, rng)
        return LabelledPlan(sample, label, start, clip_meta(sample, start, label=label), crops,
                            second)

    def row_fields(self) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """``{field: (per-clip shape, dtype)}`` of the video views :meth:`materialise`
        decodes straight into a batch's row (none for audio clips)."""
        if self.config.label_modality != "video":
            return {}
        shape = (3, self.config.clip_frames, *self.config.crop_size)
        return {name: (shape, torch.uint8)
                for name in ["video", "video_view2"][: self.config.views]}

    def materialise(self, plan: LabelledPlan, row: BatchRow | None = None) -> dict:
        """Decode the clip ``plan`` describes, its video views into ``row`` when given (a
        batch's row; returned otherwise), its label and audio returned;
        :class:`MediaError` when its mp4 does not open or decode, or its frames are not
        the size its JSON member gives."""
        with plan.sample.open_reader() as reader:
            sample = OpenSample(reader, plan.sample.meta, plan.sample.where)
            clip = {"label": torch.tensor(plan.label), "meta": plan.meta}
            if self.config.label_modality == "audio":
                clip["audio"], clip["audio_mask"] = self.cutter.audio(sample, plan.start)
                return clip
            views = [("video", plan.start, plan.crops[0])]
            if plan.second_start is not None:
                views.append(("video_view2", plan.second_start, plan.crops[1]))
            for name, start, box in views:
                video = self.cutter.checked_video(sample, start, box,
                                                  row.view(name) if row else None)
                if row is None:
                    clip[name] = video
        return clip

    def skip(self, plan: LabelledPlan) -> None:
        """A plan replayed without being materialised: nothing is open for it."""

    def close(self) -> None:
        """Nothing stays open between clips."""
