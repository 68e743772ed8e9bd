"""Labelled clips (one class per sample) from real COIN- and AudioSet-format shards: plans
from the JSON members alone, clips of the batch contract with their labels, the subset
filter, unlabelled and multi-label samples, and exact resume by replaying plans."""

import itertools
import random

import pytest
import torch

from mmssl.config import DataConfig
from mmssl.data.labelled_clips import LabelledClips
from mmssl.data.shards import SkipCounter, raw_samples, read_samples, shard_paths
from mmssl.data.tokenizer import WordTokenizer
from mmssl.data.training_stream import TrainingStream

pytestmark = pytest.mark.slow  # decodes real clips


def coin_config(shards, **extra) -> DataConfig:
    settings = {"label_key": "task_id", "label_subset": "training", "batch_size": 4,
                "num_workers": 0, "shuffle_buffer": 8, "clips_per_sample": 2, **extra}
    return DataConfig(shards=str(shards), **settings)


def plans(config: DataConfig, skip: SkipCounter | None = None):
    skip = skip or SkipCounter()
    samples = read_samples(raw_samples(shard_paths(config.shards), skip), skip,
                           need_video=config.label_modality == "video")
    return list(LabelledClips(config).plans(samples, random.Random(0), skip)), skip


def test_plans_carry_the_class_and_the_subset_filter(classification_shards):
    config = coin_config(classification_shards["coin"])
    planned, skip = plans(config)
    assert planned and not skip.counts
    for plan in planned:
        labels = plan.sample.meta["labels"]
        assert labels["subset"] == "training" and plan.label == labels["task_id"]
        assert plan.meta["label"] == plan.label and len(plan.crops) == 1
    every, _ = plans(coin_config(classification_shards["coin"], label_subset=""))
    assert len(every) > len(planned)  # the testing videos were left out


@pytest.mark.parametrize("views", [1, 2])
def test_clips_of_the_batch_contract(classification_shards, views):
    config = coin_config(classification_shards["coin"], views=views)
    stream = TrainingStream(config, WordTokenizer.train([]), seed=0)
    batch = next(iter(stream))
    assert batch["video"].shape == (4, 3, config.clip_frames, *config.crop_size)
    assert batch["video"].dtype == torch.uint8 and batch["label"].dtype == torch.int64
    assert ("video_view2" in batch) == (views == 2)
    assert [m["label"] for m in batch["meta"]] == batch["label"].tolist()
    assert "text" not in batch and "audio" not in batch


def test_a_sample_without_the_label_is_an_error_naming_it(classification_shards):
    config = coin_config(classification_shards["coin"], label_key="recipe")
    with pytest.raises(ValueError, match=r"shard-\d+\.tar: .*no labels\['recipe'\]"):
        plans(config)
    config = coin_config(classification_shards["coin"], label_key="task")  # a CamelCase name
    with pytest.raises(ValueError, match="is not an integer class id"):
        plans(config)


def test_audioset_clips_audio_multi_label_counted(classification_shards):
    config = DataConfig(shards=str(classification_shards["audioset"]), label_key="indices",
                        label_modality="audio", batch_size=2, num_workers=0,
                        shuffle_buffer=4, clips_per_sample=1)
    planned, skip = plans(config)
    metas = _metas(config.shards)
    single = [m for m in metas if len(m["labels"]["indices"]) == 1]
    assert skip.counts == {"multi_label": len(metas) - len(single)}
    assert len(planned) == len(single)
    audio_only = {m["video_id"] for m in single if not m["has_video"]}
    assert audio_only, "the world has single-class audio-only segments"
    stream = TrainingStream(config, WordTokenizer.train([]), seed=0)
    epoch = list(itertools.islice(iter(stream), len(planned) // 2))
    assert all(b["audio"].dim() == 2 and len(b["audio"]) == 2 and "video" not in b
               for b in epoch)  # waveforms: the method computes the log-mel
    seen = {m["video_id"] for b in epoch for m in b["meta"]}
    assert audio_only & seen  # audio-only samples are trained on, not skipped
    for batch in epoch:
        for meta, label in zip(batch["meta"], batch["label"].tolist(), strict=True):
            assert meta["label"] == label


def _metas(directory):
    from mmssl.data.shards import read_metas

    return list(read_metas(directory))


def test_resume_replays_plans_to_the_same_next_batch(classification_shards):
    config = coin_config(classification_shards["coin"], views=2)
    tokenizer = WordTokenizer.train([])
    uninterrupted = list(itertools.islice(iter(TrainingStream(config, tokenizer, seed=5)), 4))
    resumed = next(iter(TrainingStream(config, tokenizer, seed=5, start_batch=3)))
    for key in ("video", "video_view2", "label"):
        assert torch.equal(resumed[key], uninterrupted[3][key]), key
    assert resumed["meta"] == uninterrupted[3]["meta"]


def test_audio_clips_take_one_view():
    with pytest.raises(ValueError, match="2 views of video"):
        LabelledClips(DataConfig(label_key="indices", label_modality="audio", views=2))
    with pytest.raises(ValueError, match="label_modality"):
        LabelledClips(DataConfig(label_key="indices", label_modality="text"))
