"""The training stream from real shards: the batch contract, masks, rank/worker split,
determinism, resuming without decoding, and bad samples skipped and counted."""

import itertools
import json

import numpy as np
import pytest
import torch

from mmssl.config import DataConfig, PrepConfig
from mmssl.data import training_stream
from mmssl.data.shard_split import reader_shards
from mmssl.data.shards import shard_paths
from mmssl.data.tokenizer import WordTokenizer
from mmssl.data.training_stream import TrainingStream
from mmssl.media import ClipReader, VideoEncoding, mp4_bytes
from mmssl.prep.runner import build_manifest
from mmssl.prep.shard_writer import ShardWriter
from mmssl.shard_format import MANIFEST_NAME, encode_meta, shard_name

TOKENIZER = WordTokenizer.train(["big red square moves left with a buzz", "ok lets go"])


def small_config(shards, **overrides) -> DataConfig:
    base = dict(shards=str(shards), batch_size=6, num_candidates=3, clips_per_sample=2,
                num_workers=0, shuffle_buffer=8, max_words=8)
    return DataConfig(**{**base, **overrides})


def first_batches(stream, count):
    return list(itertools.islice(iter(stream), count))


def test_batch_contract(tiny_shards):
    config = small_config(tiny_shards["howto100m"])
    batch = first_batches(TrainingStream(config, TOKENIZER), 1)[0]
    assert batch["video"].shape == (6, 3, config.clip_frames, 48, 64)
    assert batch["video"].dtype == torch.uint8  # normalised by the method, on its device
    # One second of 16 kHz waveform: the method computes the log-mel on its device.
    assert batch["audio"].shape == (6, 16000) and batch["audio"].dtype == torch.float32
    assert batch["audio_mask"].dtype == torch.bool and batch["audio_mask"].all()
    assert batch["text"].shape == (6, 3, 8) and batch["text_mask"].shape == (6, 3)
    assert batch["text_mask"][:, 0].all()
    assert torch.equal(batch["text_mask"], (batch["text"] != 0).any(-1))
    assert len(batch["meta"]) == 6 and all("video_id" in m for m in batch["meta"])
    assert batch["audio"].std() > 0.01  # real sound, not zeros


def test_same_seed_same_stream_other_seed_differs(tiny_shards):
    config = small_config(tiny_shards["howto100m"])
    keys = [[m["key"] for b in first_batches(TrainingStream(config, TOKENIZER, seed=s), 2)
             for m in b["meta"]] for s in (0, 0, 1)]
    assert keys[0] == keys[1] and keys[0] != keys[2]


def test_ranks_get_disjoint_shards(tiny_shards):
    paths = shard_paths(tiny_shards["howto100m"])
    split = [reader_shards(paths, 0, 5, rank, 2, 0, 1) for rank in (0, 1)]
    assert not set(split[0]) & set(split[1]) and sorted(split[0] + split[1]) == sorted(paths)


def assert_same_batches(first: list[dict], second: list[dict]) -> None:
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        assert a.keys() == b.keys() and a["meta"] == b["meta"]
        for key in a:
            if torch.is_tensor(a[key]):
                assert torch.equal(a[key], b[key]), key


def count_decodes(monkeypatch) -> dict[str, int]:
    """Count calls of ClipReader's decoding methods from now on (the real methods run)."""
    calls = {"video": 0, "audio_window": 0}
    for name, key in [("iter_frames", "video"), ("cut_into", "video"),
                      ("audio_window", "audio_window")]:
        real = getattr(ClipReader, name)

        def counted(self, *args, _real=real, _key=key):
            calls[_key] += 1
            return _real(self, *args)

        monkeypatch.setattr(ClipReader, name, counted)
    return calls


@pytest.mark.parametrize("views", [1, 2])
def test_resumed_stream_continues_the_fresh_one_without_decoding_the_skipped(
        tiny_shards, monkeypatch, views):
    config = small_config(tiny_shards["howto100m"], views=views)
    start, more = 7, 2  # 7 batches of 6 clips: several epochs of the tiny shards
    fresh = first_batches(TrainingStream(config, TOKENIZER, seed=2), start + more)
    decoded = count_decodes(monkeypatch)
    resumed = first_batches(TrainingStream(config, TOKENIZER, seed=2, start_batch=start), more)
    assert_same_batches(resumed, fresh[start:])
    clips = more * config.batch_size  # decoded: the yielded clips only, each view once
    assert decoded == {"video": clips * views, "audio_window": clips}


def test_reference_candidates_fill_every_slot_and_resume_alike(tiny_shards, monkeypatch):
    """MIL-NCE's rule: with more candidates asked for than a sample has narrations, every
    slot is filled (edge narrations repeated) where mmssl's own rule masks; the draws, and
    so a resumed stream, are unchanged."""
    masked = small_config(tiny_shards["howto100m"], num_candidates=12)
    config = small_config(tiny_shards["howto100m"], num_candidates=12, candidates="reference")
    fresh = first_batches(TrainingStream(config, TOKENIZER, seed=2), 4)
    assert all(batch["text_mask"].all() for batch in fresh)
    repeats = [len({tuple(row) for row in clip.tolist()}) < 12 for clip in fresh[0]["text"]]
    assert all(repeats)
    other = first_batches(TrainingStream(masked, TOKENIZER, seed=2), 4)
    assert not all(batch["text_mask"].all() for batch in other)
    assert [m["key"] for b in other for m in b["meta"]] == [
        m["key"] for b in fresh for m in b["meta"]]  # the same clips, other candidates
    resumed = first_batches(TrainingStream(config, TOKENIZER, seed=2, start_batch=3), 1)
    assert_same_batches(resumed, fresh[3:])


def test_resumed_loader_workers_continue_the_fresh_loader(tiny_shards):
    config = small_config(tiny_shards["howto100m"], num_workers=2)

    def loader_batches(start_batch, count):
        stream = TrainingStream(config, TOKENIZER, seed=1, start_batch=start_batch)
        loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=2)
        return [{k: v for k, v in b.items() if k != "skipped"}
                for b in itertools.islice(loader, count)]

    assert_same_batches(loader_batches(3, 3), loader_batches(0, 6)[3:])


def _write_shard(directory, samples):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / shard_name(0)
    with ShardWriter(path) as writer:
        for sample in samples:
            writer.write(sample)
        writer.finish({"shard": path.name, "failed": {}, "failures": []})
    (directory / MANIFEST_NAME).write_text(json.dumps(build_manifest([str(path)], "test",
                                                                PrepConfig(), 0.0)))


def _sample(key, with_audio=True, media=None, size=(48, 64), fps=8.0):
    """A 2-s sample with one narration; its frames of ``size`` at ``fps``."""
    count = int(2 * fps)
    frames = np.random.default_rng(0).integers(0, 255, (count, *size, 3), dtype=np.uint8)
    audio = np.zeros((1, 32000), np.float32) if with_audio else None
    meta = {"dataset": "test", "video_id": key, "source": "", "start": 0.0, "end": 2.0,
            "fps": fps, "num_frames": count, "width": size[1], "height": size[0],
            "has_audio": with_audio,
            "audio_rate": 16000, "labels": {},
            "texts": [{"start": 0.2, "end": 1.5, "text": "red square"}]}
    media = media if media is not None else mp4_bytes(frames, VideoEncoding(fps=fps), audio)
    return {"__key__": key, "mp4": media, "json": encode_meta(meta)}


@pytest.mark.parametrize("views", [1, 2])
def test_sources_of_every_shape_give_clips_of_the_crop_size(tmp_path, views):
    sizes = {"wide": (48, 86), "four_three": (48, 64), "vertical": (86, 48), "big": (112, 150)}
    _write_shard(tmp_path, [_sample(key, size=size) for key, size in sizes.items()])
    config = small_config(tmp_path, batch_size=4, clips_per_sample=1, shuffle_buffer=1,
                          crop_size=(40, 40), views=views)
    batch = first_batches(TrainingStream(config, TOKENIZER), 1)[0]
    assert batch["video"].shape == (4, 3, config.clip_frames, 40, 40)
    assert {m["video_id"] for m in batch["meta"]} == set(sizes)
    if views == 2:
        assert batch["video_view2"].shape == batch["video"].shape


def test_missing_audio_is_masked_and_bad_samples_are_counted(tmp_path):
    samples = [_sample("silent", with_audio=False), _sample("garbage", media=b"not a video"),
               _sample("sound")]
    _write_shard(tmp_path, samples)
    stream = TrainingStream(small_config(tmp_path, batch_size=2, clips_per_sample=1,
                                         shuffle_buffer=1), TOKENIZER)
    with pytest.warns(UserWarning, match="skipping bad sample \\(unreadable\\).*garbage"):
        batch = first_batches(stream, 1)[0]
    by_key = {m["video_id"]: i for i, m in enumerate(batch["meta"])}
    assert set(by_key) == {"silent", "sound"}
    assert not batch["audio_mask"][by_key["silent"]] and batch["audio_mask"][by_key["sound"]]
    assert batch["audio"][by_key["silent"]].abs().sum() == 0
    assert sum(stream.skip.counts.values()) == 1
    assert batch["skipped"] == {"worker": 0, "counts": {"unreadable": 1}}


def test_samples_prepared_at_another_frame_rate_cannot_join_a_batch(tmp_path):
    # A clip's sound is clip_frames / fps seconds: 1 s at 8 fps, 2 s at 4 fps.
    _write_shard(tmp_path, [_sample("at8"), _sample("at4", fps=4.0)])
    stream = TrainingStream(small_config(tmp_path, batch_size=2, clips_per_sample=1,
                                         shuffle_buffer=1), TOKENIZER)
    with pytest.raises(ValueError, match=r"at4: a clip's audio of shape \(32000,\) cannot "
                                         r"join a batch whose earlier clips' are \(16000,\)"):
        first_batches(stream, 1)


def damaged(media: bytes) -> bytes:
    """The mp4 with its frame data zeroed: it opens, but its frames do not decode."""
    data, moov = media.find(b"mdat") + 4, media.find(b"moov") - 4
    return media[:data] + bytes(moov - data) + media[moov:]


def test_a_clip_that_fails_to_decode_is_skipped_and_counted(tmp_path):
    good = _sample("good")
    _write_shard(tmp_path, [good, _sample("damaged", media=damaged(good["mp4"])),
                            _sample("fine")])
    stream = TrainingStream(small_config(tmp_path, batch_size=2, clips_per_sample=1,
                                         shuffle_buffer=1), TOKENIZER)
    with pytest.warns(UserWarning, match="skipping bad sample \\(decode_error\\).*damaged"):
        batch = first_batches(stream, 1)[0]
    assert [m["video_id"] for m in batch["meta"]] == ["good", "fine"]
    assert batch["skipped"]["counts"] == {"decode_error": 1}


def test_samples_skipped_by_their_json_are_skipped_again_when_replayed(tmp_path, monkeypatch):
    unnarrated = _sample("unnarrated")
    unnarrated["json"] = unnarrated["json"].replace(b'"start": 0.2', b'"start": 9.0')
    broken = {**_sample("broken"), "json": b"{not json"}
    good = [_sample(f"good{i}") for i in range(5)]
    _write_shard(tmp_path, [good[0], unnarrated, *good[1:3], broken, *good[3:]])
    config = small_config(tmp_path, batch_size=2, clips_per_sample=1, shuffle_buffer=3)
    with pytest.warns(UserWarning, match="skipping bad sample"):
        fresh = first_batches(TrainingStream(config, TOKENIZER, seed=5), 6)
    decoded = count_decodes(monkeypatch)
    with pytest.warns(UserWarning, match="skipping bad sample"):
        resumed = first_batches(TrainingStream(config, TOKENIZER, seed=5, start_batch=4), 2)
    assert_same_batches(resumed, fresh[4:])
    assert decoded["video"] == 2 * config.batch_size
    assert resumed[-1]["skipped"] == fresh[-1]["skipped"]  # the replay counted them too
    assert set(fresh[-1]["skipped"]["counts"]) == {"no_narration", "JSONDecodeError"}


def test_a_reader_whose_clips_all_fail_to_decode_stops_with_a_clear_error(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(training_stream, "FAILED_CLIPS_IN_A_ROW_LIMIT", 5)
    _write_shard(tmp_path, [_sample("damaged", media=damaged(_sample("good")["mp4"]))])
    stream = TrainingStream(small_config(tmp_path, batch_size=2), TOKENIZER)
    with pytest.warns(UserWarning), pytest.raises(RuntimeError,
                                                  match="last 5 clips .* failed to decode"):
        first_batches(stream, 1)


def test_too_few_shards_for_the_readers_is_a_clear_error(tiny_shards):
    shards = len(shard_paths(tiny_shards["howto100m"]))
    config = small_config(tiny_shards["howto100m"], num_workers=shards + 1)
    with pytest.raises(ValueError, match=f"{shards} shards cannot feed 1 process"):
        TrainingStream(config, TOKENIZER)


def test_each_sample_is_opened_and_tokenised_once_for_all_its_clips(tiny_shards, monkeypatch):
    config = small_config(tiny_shards["howto100m"], clips_per_sample=3, shuffle_buffer=16)
    opened, tokenised = [], []
    real_init, real_call = ClipReader.__init__, WordTokenizer.__call__

    def counting_init(self, source, *args, **kwargs):
        opened.append(source)
        real_init(self, source, *args, **kwargs)

    def counting_call(self, texts, max_words):
        tokenised.append(tuple(texts))
        return real_call(self, texts, max_words)

    monkeypatch.setattr(ClipReader, "__init__", counting_init)
    monkeypatch.setattr(WordTokenizer, "__call__", counting_call)
    stream = TrainingStream(config, TOKENIZER)
    batches = first_batches(stream, 4)
    clips = [m["key"] for b in batches for m in b["meta"]]
    assert len(set(map(id, opened))) == len(opened) < len(clips)  # one open per sample
    assert len(tokenised) == len(opened)
    assert not stream.clips.open.states  # every mp4 closed when the stream stopped
    expected = first_batches(TrainingStream(config, TOKENIZER), 4)
    assert_same_batches(batches, expected)
