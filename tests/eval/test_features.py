"""Batched feature extraction: windows of several segments share a forward pass, and each
segment is still the mean of exactly its own W windows, as when encoded alone."""

import pytest
import torch

from mmssl.checkpoint import load_checkpoint
from mmssl.data.shards import SkipCounter, open_dataset
from mmssl.eval.features import FeatureExtractor, WindowAverager


def rowwise(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """An elementwise function of each row: its value cannot depend on the batch."""
    flat = x.flatten(1)
    return {"sin": flat.sin(), "square": flat.square()}


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5, 64])
def test_averager_means_each_segment_over_its_own_windows(batch_size):
    generator = torch.Generator().manual_seed(0)
    segments = [torch.randn(w, 2, 3, generator=generator) for w in (3, 1, 4, 3, 2)]
    batches = []

    def encode(x):
        batches.append(len(x))
        return rowwise(x)

    averager = WindowAverager(encode, batch_size)
    for windows in segments:
        averager.add(windows)
    out = averager.finish()
    for name in ("sin", "square"):
        expected = torch.stack([rowwise(w)[name].mean(0) for w in segments])
        assert torch.equal(out[name], expected), name
    total = sum(len(w) for w in segments)
    assert sum(batches) == total and max(batches) <= batch_size
    assert batches[:-1] == [batch_size] * (len(batches) - 1)  # only the last is partial
    assert len(batches) == -(-total // batch_size)


def test_averager_rejects_bad_sizes():
    with pytest.raises(ValueError, match="batch_size"):
        WindowAverager(rowwise, 0)
    with pytest.raises(ValueError, match="at least one window"):
        WindowAverager(rowwise, 4).add(torch.zeros(0, 3))


@pytest.fixture(scope="module")
def loaded(eval_checkpoint):
    return load_checkpoint(eval_checkpoint)


def extract(loaded, shards, batch_size, windows=3):
    method, train_config, tokenizer = loaded
    extractor = FeatureExtractor(method, train_config.data, tokenizer, windows,
                                 ("embedding", "backbone"), batch_size=batch_size)
    return extractor, extractor.extract(str(shards))


def test_batched_features_match_one_window_at_a_time(loaded, tiny_shards):
    _, single = extract(loaded, tiny_shards["youcook2"], batch_size=1)
    _, batched = extract(loaded, tiny_shards["youcook2"], batch_size=5)  # spans segments
    assert batched.keys == single.keys and len(single) >= 3
    for modality in ("video", "audio", "text"):
        a, b = getattr(single, modality), getattr(batched, modality)
        assert a.keys() == b.keys() and a
        for name in a:
            torch.testing.assert_close(b[name], a[name], rtol=1e-5, atol=1e-5)
    assert torch.equal(batched.has_audio, single.has_audio)


def test_one_segment_per_batch_averages_exactly_as_encoding_each_segment_alone(
        loaded, tiny_shards):
    """batch_size = W puts exactly one segment in each batch: the protocol's per-segment
    encoding, z_seg = mean_w f(clip_w) over one (W, ...) forward pass, bit for bit."""
    method = loaded[0]
    extractor, features = extract(loaded, tiny_shards["youcook2"], batch_size=3)
    samples = open_dataset(str(tiny_shards["youcook2"]), SkipCounter(), True)
    with torch.no_grad():
        for row, sample in enumerate(samples):
            video = extractor.windows_of(sample, "video")
            expected = method.embed("video", video)["vt"].mean(0)
            assert torch.equal(features.video["vt"][row], expected), row
            audio = extractor.windows_of(sample, "audio")
            backbone = method.towers.encode("audio", audio).mean(0)
            assert torch.equal(features.audio["features"][row], backbone), row
    assert row == len(features) - 1


def test_sentences_in_batches_match_sentences_alone(loaded, tiny_shards):
    method, train_config, tokenizer = loaded
    sentences = ["cut the onion", "a whistle", "stir the red pot slowly", "", "onion"]
    alone = FeatureExtractor(method, train_config.data, tokenizer, batch_size=1)
    together = FeatureExtractor(method, train_config.data, tokenizer, batch_size=2)
    a, b = alone.encode_text(sentences), together.encode_text(sentences)
    assert a.keys() == b.keys()
    for space in a:
        assert a[space].shape[0] == len(sentences)
        torch.testing.assert_close(b[space], a[space], rtol=1e-5, atol=1e-5)


def test_segments_decoded_in_workers_arrive_in_order_and_match_decoding_here(
        loaded, tiny_shards):
    method, train_config, tokenizer = loaded
    runs = [FeatureExtractor(method, train_config.data, tokenizer, 2, ("embedding",),
                             batch_size=4, workers=workers).extract(str(tiny_shards["youcook2"]))
            for workers in (0, 2)]
    here, workers = runs
    assert workers.keys == here.keys and workers.metas == here.metas and len(here) >= 3
    assert torch.equal(workers.has_audio, here.has_audio)
    for modality in ("video", "audio", "text"):
        for name, value in getattr(here, modality).items():
            assert torch.equal(getattr(workers, modality)[name], value), (modality, name)
