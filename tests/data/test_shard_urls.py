"""Shards from anywhere: a local HTTP server on 127.0.0.1 (http.server in a thread), one
that drops connections halfway through a tar, one that stalls, ``pipe:`` commands, brace
patterns and fsspec URLs — read as the local directory reads, dropped connections retried
and counted, nothing hanging."""

import itertools
import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from mmssl.config import DataConfig
from mmssl.data import shard_urls
from mmssl.data.shard_urls import HTTPStream, fetch_manifest
from mmssl.data.shards import SkipCounter, raw_samples, read_metas, shard_paths
from mmssl.data.tokenizer import WordTokenizer
from mmssl.data.training_stream import TrainingStream
from mmssl.shard_format import MANIFEST_NAME, read_manifest

TOKENIZER = WordTokenizer.train(["big red square moves left with a buzz", "ok lets go"])


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def odd(count: int) -> bool:
    return count % 2 == 1


class Dropping(Quiet):
    """Sends the full Content-Length, then half the body, then closes the socket, when
    ``drop(n)`` for the n-th request of a tar (default: the 1st, 3rd, 5th, ...)."""

    drop = staticmethod(odd)
    served: dict

    def copyfile(self, source, outputfile):
        name = self.path
        self.served[name] = self.served.get(name, 0) + 1
        if name.endswith(".tar") and self.drop(self.served[name]):
            data = source.read()
            outputfile.write(data[: len(data) // 2])
            outputfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        super().copyfile(source, outputfile)


class Stalling(Quiet):
    """Sends the headers and a few bytes of each tar, then nothing, connection open."""

    release: threading.Event

    def copyfile(self, source, outputfile):
        if not self.path.endswith(".tar"):
            return super().copyfile(source, outputfile)
        outputfile.write(source.read(100))
        outputfile.flush()
        self.release.wait(30)


def serve(directory, handler=Quiet, **attributes):
    """``(base URL, server)``: ``directory`` over HTTP on 127.0.0.1, in a thread."""
    handler = type("Handler", (handler,), attributes)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(directory)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


@pytest.fixture
def http_root(tiny_shards):
    """The tiny shards' parent directory served over HTTP (each dataset is a URL prefix)."""
    base, server = serve(Path(tiny_shards["howto100m"]).parent)
    yield base
    server.shutdown()


def small_config(shards, **overrides) -> DataConfig:
    base = dict(shards=str(shards), batch_size=4, num_candidates=3, clips_per_sample=2,
                num_workers=0, shuffle_buffer=8, max_words=8)
    return DataConfig(**{**base, **overrides})


def batches(config, count=3) -> list[dict]:
    stream = TrainingStream(config, TOKENIZER, seed=3)
    return list(itertools.islice(iter(stream), count))


def assert_same(first, second):
    for a, b in zip(first, second, strict=True):
        assert a["meta"] == b["meta"]
        for key in ("video", "audio", "text", "text_mask", "audio_mask"):
            assert torch.equal(a[key], b[key]), key


def test_a_url_prefix_reads_like_the_local_directory(tiny_shards, http_root):
    local = tiny_shards["howto100m"]
    url = f"{http_root}/howto100m"
    manifest = fetch_manifest(url)
    assert [s["name"] for s in manifest["shards"]] == [
        s["name"] for s in read_manifest(local)["shards"]]
    assert manifest["shards"][0]["path"] == f"{url}/{manifest['shards'][0]['name']}"
    assert list(read_metas(url)) == list(read_metas(str(local)))
    assert_same(batches(small_config(url)), batches(small_config(local)))


def test_a_brace_pattern_a_pipe_and_fsspec_name_the_same_shards(tiny_shards):
    local = Path(tiny_shards["howto100m"])
    names = [s["name"] for s in read_manifest(local)["shards"]]
    pattern = f"{local}/shard-{{000000..{len(names) - 2:06d}}}.tar"
    assert [Path(p).name for p in shard_paths(pattern)] == names[:-1]  # only those named
    pipe = f"pipe:cat {local}/shard-{{000000..{len(names) - 1:06d}}}.tar"
    assert shard_paths(pipe)[0] == f"pipe:cat {local}/{names[0]}"
    keys = [[s["__key__"] for s in raw_samples(shard_paths(where), SkipCounter())]
            for where in (str(local), pipe)]
    assert keys[0] == keys[1] and keys[0]
    pytest.importorskip("fsspec", reason="object stores are read through fsspec")
    file_url = f"file://{local}"
    assert [s["__key__"] for s in raw_samples(shard_paths(file_url), SkipCounter())] == keys[0]


def test_a_connection_dropped_halfway_through_a_tar_is_retried_and_counted(
        tiny_shards, monkeypatch):
    monkeypatch.setattr(shard_urls, "PAUSE_S", 0.01)
    base, server = serve(Path(tiny_shards["howto100m"]).parent, Dropping, served={})
    try:
        with pytest.warns(UserWarning, match="connection_retried"):
            remote = batches(small_config(f"{base}/howto100m"))
    finally:
        server.shutdown()
    # The stream reopened each tar where it stopped: not a sample lost or repeated.
    assert_same(remote, batches(small_config(tiny_shards["howto100m"])))
    assert remote[-1]["skipped"]["counts"]["connection_retried"] >= 1


def test_a_server_that_always_drops_costs_its_shards_not_the_run(tiny_shards, monkeypatch):
    monkeypatch.setattr(shard_urls, "PAUSE_S", 0.01)
    monkeypatch.setattr(shard_urls, "RETRIES", 2)
    base, server = serve(Path(tiny_shards["howto100m"]).parent, Dropping, served={},
                         drop=staticmethod(lambda count: True))
    skip = SkipCounter()
    try:
        with pytest.warns(UserWarning):
            samples = list(raw_samples(shard_paths(f"{base}/howto100m"), skip))
    finally:
        server.shutdown()
    shards = len(shard_paths(str(tiny_shards["howto100m"])))
    # Every tar: 2 reopenings, then given up and counted; what came before the drop stays.
    assert skip.counts["connection_retried"] == 2 * shards
    assert sum(n for reason, n in skip.counts.items() if reason != "connection_retried") == shards
    assert all(s["__url__"].startswith(base) for s in samples)


def test_a_stalled_connection_times_out_instead_of_hanging(tiny_shards):
    release = threading.Event()
    base, server = serve(Path(tiny_shards["howto100m"]).parent, Stalling, release=release)
    retries, errors = [], []
    url = f"{base}/howto100m/{read_manifest(tiny_shards['howto100m'])['shards'][0]['name']}"

    def read():
        try:
            HTTPStream(url, timeout=0.2, retries=1, on_retry=retries.append).read()
        except OSError as error:
            errors.append(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(60)
    release.set()
    server.shutdown()
    assert not reader.is_alive(), "the read hung"
    assert len(retries) == 1 and "after 1 retries" in str(errors[0])


def test_a_missing_remote_manifest_is_a_clear_error(http_root):
    with pytest.raises(OSError, match=f"{MANIFEST_NAME}"):
        fetch_manifest(f"{http_root}/nowhere")
    assert json.loads(shard_urls.read_location(f"{http_root}/howto100m/{MANIFEST_NAME}"))


@pytest.mark.slow
def test_training_reads_a_served_dataset_through_dropped_connections(tiny_shards, tmp_path,
                                                                     monkeypatch):
    """A real run (one loader worker, forked) on a server that drops every other transfer
    of each tar halfway: it finishes, and the log counts the reopened connections."""
    from mmssl.config import TrainConfig, load_config
    from mmssl.train import train

    monkeypatch.setattr(shard_urls, "PAUSE_S", 0.01)
    base, server = serve(Path(tiny_shards["howto100m"]).parent, Dropping, served={})
    config = load_config(TrainConfig, None, [
        f"--data.shards={base}/howto100m", f"--output_dir={tmp_path}",
        "--data.batch_size=4", "--data.num_workers=1", "--data.shuffle_buffer=8",
        "--optim.max_steps=3", "--optim.warmup_steps=1", "--log_every=1", "--threads=1",
        "--checkpoint_every=0", "--tensorboard=false"])
    try:  # the vocabulary comes from the served stats files, read through the same retries
        checkpoint = train(config, progress=False)
    finally:
        server.shutdown()
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert (checkpoint / "model.safetensors").is_file() and records[-1]["step"] == 3
    assert records[-1]["skipped"]["connection_retried"] >= 1


def test_evaluation_features_from_a_url_equal_the_local_ones(eval_checkpoint, tiny_shards,
                                                              http_root):
    from mmssl.checkpoint import load_checkpoint
    from mmssl.eval.features import FeatureExtractor

    method, train_config, tokenizer = load_checkpoint(eval_checkpoint)
    extractor = FeatureExtractor(method, train_config.data, tokenizer, windows=2)
    local = extractor.extract(str(tiny_shards["youcook2"]))
    remote = extractor.extract(f"{http_root}/youcook2")
    assert remote.keys == local.keys and len(local) >= 3
    for modality in ("video", "audio", "text"):
        for name, value in getattr(local, modality).items():
            assert torch.equal(getattr(remote, modality)[name], value), (modality, name)
