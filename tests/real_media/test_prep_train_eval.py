"""16:9, 4:3, vertical and MKV/Opus sources go through prep, training and evaluation; shard
directories prepared at different sizes train together (data.mix); a centre crop of
frames already at the crop size is the frames themselves, so evaluation on uniform data
gives the numbers it gave before crops existed."""

import itertools

import pytest
import torch
from real_sources import PREP, SOURCES

from mmssl.config import EvalConfig, PrepConfig, TrainConfig, load_config
from mmssl.data.clips import ClipCutter
from mmssl.data.shards import SkipCounter, open_dataset
from mmssl.data.tokenizer import WordTokenizer
from mmssl.data.training_stream import TrainingStream
from mmssl.data.vocabulary import shard_word_counts
from mmssl.prep import howto100m

pytestmark = pytest.mark.slow

# Frame sizes (width, height) at a 48-px short side, aspect kept, sides even.
PREPARED_48 = {"wide16by9_A": (86, 48), "classic4by3": (64, 48), "vertical9x6": (48, 86),
               "matroskaOPS": (86, 48)}


def train_config(out, *overrides) -> TrainConfig:
    return load_config(TrainConfig, None, [
        f"--output_dir={out}", "--data.batch_size=4", "--data.num_workers=0",
        "--data.shuffle_buffer=8", "--data.clips_per_sample=2", "--optim.max_steps=3",
        "--optim.warmup_steps=1", "--log_every=1", "--checkpoint_every=0", "--threads=1",
        "--tensorboard=false", *overrides])


def test_every_shape_is_prepared_with_its_aspect(real_shards):
    metas = [s.meta for s in open_dataset(str(real_shards["howto100m"]), SkipCounter(True))]
    assert {m["video_id"]: (m["width"], m["height"]) for m in metas} == PREPARED_48
    assert all(m["has_audio"] for m in metas)  # AAC 44.1 kHz stereo and Opus 48 kHz alike


def test_mixed_aspect_ratios_prep_train_eval(real_shards, tmp_path):
    from mmssl.eval.evaluate import evaluate_youcook2
    from mmssl.train import train

    config = train_config(tmp_path / "run", f"--data.shards={real_shards['howto100m']}")
    checkpoint = train(config, progress=False)
    results = evaluate_youcook2(checkpoint, EvalConfig(shards=str(real_shards["youcook2"]),
                                                       windows=2))
    recall = results["metrics"]["text->video"]
    assert recall["num_queries"] == 2 * len(SOURCES)  # two steps per source
    assert 0 <= recall["R@1"] <= recall["R@5"] <= 1


def test_shards_prepared_at_48_and_112_pixels_train_together(real_world, real_shards,
                                                             tmp_path):
    from mmssl.train import train

    large = tmp_path / "shards112"
    howto100m.prepare(real_world["captions"], real_world["videos"], large,
                      PrepConfig(short_side=112, samples_per_shard=2, workers=PREP.workers),
                      progress=False)
    mix = {str(real_shards["howto100m"]): 1.0, str(large): 1.0}
    config = train_config(tmp_path / "run", *[f"--data.mix.{d}={w}" for d, w in mix.items()])
    tokenizer = WordTokenizer.from_counts(shard_word_counts(mix))
    for batch in itertools.islice(iter(TrainingStream(config.data, tokenizer)), 4):
        assert batch["video"].shape[1:] == (3, config.data.clip_frames, 48, 64)
    sources = {sample.meta["height"] for sample in open_dataset(str(large), SkipCounter())}
    assert min(sources) == 112  # the large directory's frames really are larger
    assert train(config, progress=False).is_dir()


def test_a_centre_crop_of_frames_at_the_crop_size_is_the_frames(real_shards):
    cutter = ClipCutter.from_config(TrainConfig().data)  # crop_size (48, 64)
    for sample in open_dataset(str(real_shards["howto100m"]), SkipCounter(True)):
        if sample.meta["video_id"] != "classic4by3":
            continue  # 4:3 at a 48-px short side: 64 × 48, the crop size
        frames = torch.from_numpy(sample.reader.frames(3, cutter.clip_frames, sample.fps))
        clip = cutter.video(sample, 3 / sample.fps)
        assert clip.dtype == torch.uint8 and torch.equal(clip, frames.permute(3, 0, 1, 2))
        return
    pytest.fail("no 4:3 sample")
