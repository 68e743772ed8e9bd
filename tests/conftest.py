"""Session fixtures: one tiny synthetic world and its prepared shards, shared by the data,
prep, training and evaluation tests (generating them costs a few seconds); COIN- and
AudioSet-format shards and a briefly trained checkpoint for the evaluation tests."""

from pathlib import Path

import pytest

from mmssl.config import PrepConfig, SynthConfig, TrainConfig, load_config
from mmssl.prep import audioset, coin, howto100m, youcook2

TINY_WORLD = SynthConfig(
    seed=3, howto_videos=6, youcook_val_videos=3, youcook_train_videos=1,
    howto_seconds=(14.0, 18.0), youcook_seconds=(14.0, 18.0), no_audio_fraction=0.0, workers=2,
    coin_videos=0, audioset_clips=0,
)
TINY_PREP = PrepConfig(samples_per_shard=2, workers=2)


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> Path:
    from mmssl.synth import generate_world

    root = tmp_path_factory.mktemp("tiny_world")
    generate_world(root, TINY_WORLD, progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_shards(tiny_world, tmp_path_factory) -> dict[str, Path]:
    """{"howto100m": dir, "youcook2": dir} prepared from :func:`tiny_world`."""
    out = tmp_path_factory.mktemp("tiny_shards")
    howto = tiny_world / "howto100m"
    howto100m.prepare(howto / "caption.json", howto / "videos", out / "howto100m", TINY_PREP,
                      howto / "HowTo100M_v1.csv", progress=False)
    youcook2.prepare(tiny_world / "youcook2" / "youcookii_annotations_trainval.json",
                     tiny_world / "youcook2" / "videos", out / "youcook2", TINY_PREP,
                     ("validation",), progress=False)
    return {"howto100m": out / "howto100m", "youcook2": out / "youcook2"}


# Evaluation fixtures (issue 7). They live here, not in tests/eval/conftest.py: a second
# conftest module would replace this one as ``sys.modules["conftest"]``, and the 2-process
# tests pickle ``conftest._gloo_process`` by name.
EVAL_PREP = PrepConfig(samples_per_shard=8, workers=2)
COIN_VIDEOS = 12  # two per task, so every task has a training and most a testing video
AUDIOSET_CLIPS = 12


@pytest.fixture(scope="session")
def classification_shards(tmp_path_factory) -> dict[str, Path]:
    """{"coin": dir, "audioset": dir, "audioset_labels": class_labels_indices.csv}."""
    from mmssl.synth.audioset import write_audioset
    from mmssl.synth.coin import write_coin
    from mmssl.synth.videos import MediaSettings

    root = tmp_path_factory.mktemp("classification_world")
    media = MediaSettings(128, 96, 16.0, 22050)
    write_coin(root / "coin", COIN_VIDEOS, seed=4, media=media, seconds=(14.0, 18.0), workers=2)
    write_audioset(root / "audioset", AUDIOSET_CLIPS, seed=4)
    out = tmp_path_factory.mktemp("classification_shards")
    coin.prepare(root / "coin" / "COIN.json", root / "coin" / "videos", out / "coin",
                 EVAL_PREP, progress=False)
    labels = root / "audioset" / "class_labels_indices.csv"
    audioset.prepare(sorted((root / "audioset").glob("*_segments.csv")), labels,
                     root / "audioset", out / "audioset", EVAL_PREP, progress=False)
    return {"coin": out / "coin", "audioset": out / "audioset", "audioset_labels": labels}


@pytest.fixture(scope="session")
def eval_checkpoint(tiny_shards, tmp_path_factory) -> Path:
    """An MMV-FAC checkpoint (with the audio-text term) after 12 tiny steps, its run
    directory holding log.jsonl as training writes it."""
    from mmssl.train import train

    out = tmp_path_factory.mktemp("eval_run")
    config = load_config(TrainConfig, None, [
        f"--data.shards={tiny_shards['howto100m']}", f"--output_dir={out}",
        "--data.batch_size=8", "--data.num_workers=0", "--data.shuffle_buffer=16",
        "--optim.max_steps=12", "--optim.warmup_steps=2", "--log_every=3",
        "--loss.weights.at=1.0"])
    return train(config, progress=False)

def _gloo_process(rank: int, world: int, store: str, out_dir: str, body) -> None:
    import datetime

    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=60))
    try:
        torch.save(body(rank), f"{out_dir}/rank{rank}.pt")
        # Leave together: a rank that tears gloo down while its peer is still connected
        # can make the peer abort ("terminate called without an active exception").
        dist.barrier()
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="session")
def run_gloo(tmp_path_factory):
    """``run_gloo(body, world=2)``: run the module-level function ``body(rank) -> dict`` in
    ``world`` real processes joined by a gloo group on CPU; returns the dicts by rank."""
    import torch
    import torch.multiprocessing as mp

    def run(body, world: int = 2) -> list[dict]:
        out = tmp_path_factory.mktemp("gloo")
        mp.spawn(_gloo_process, args=(world, str(out / "store"), str(out), body),
                 nprocs=world, join=True)
        return [torch.load(out / f"rank{rank}.pt") for rank in range(world)]

    return run


def shard_bytes(directory) -> dict:
    """{file name: sha256} of every shard tar and stats file of a prepared directory.

    Shards are reproducible byte for byte (``mmssl/shard_format.py``), so runs that must give
    the same data are compared on their bytes."""
    import hashlib

    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(Path(directory).glob("shard-*"))}


def differing_members(first, second) -> list[str]:
    """Names of the tar members whose bytes differ between two prepared directories (what
    to look at when :func:`shard_bytes` differ)."""
    import tarfile

    def members(directory):
        out = {}
        for path in sorted(Path(directory).glob("shard-*.tar")):
            with tarfile.open(path) as tar:
                out.update({f"{path.name}/{m.name}": tar.extractfile(m).read() for m in tar})
        return out

    a, b = members(first), members(second)
    return sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))
