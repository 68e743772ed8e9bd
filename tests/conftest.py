"""Session fixtures: one tiny synthetic world and its prepared shards, shared by the data,
prep, training and evaluation tests (generating them costs a few seconds); COIN- and
AudioSet-format shards and a briefly trained checkpoint for the evaluation tests."""

import json
from pathlib import Path

import pytest
import torch
from helpers import gloo_process

from mmssl.config import PrepConfig, SynthConfig, TrainConfig, load_config
from mmssl.prep import audioset, coin, howto100m, youcook2

TINY_WORLD = SynthConfig(
    seed=3, howto_videos=6, youcook_val_videos=3, youcook_train_videos=1,
    howto_seconds=(14.0, 18.0), youcook_seconds=(14.0, 18.0), no_audio_fraction=0.0, workers=2,
    coin_videos=0, audioset_clips=0,
)
TINY_PREP = PrepConfig(samples_per_shard=2, workers=2)

# Markers for ``make test-fast`` (``-m "not slow and not multiprocess"``): a test that uses
# one of these fixtures trains a model or starts processes, whatever its module says.
SLOW_FIXTURES = {"eval_checkpoint", "demo_run"}
MULTIPROCESS_FIXTURES = {"run_gloo"}


def pytest_collection_modifyitems(items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)
        if fixtures & MULTIPROCESS_FIXTURES:
            item.add_marker(pytest.mark.multiprocess)


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


# Evaluation fixtures: COIN- and AudioSet-format shards and a briefly trained checkpoint.
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


# API and search fixtures: an untrained checkpoint written as training writes one (its prep
# settings from the training shards' manifest), and the tiny YouCook2's annotated steps.
@pytest.fixture(scope="session")
def fresh_checkpoint(tiny_shards, tmp_path_factory) -> Path:
    """MMV-FAC as initialised (seed 0), saved with save_checkpoint: fast to make, and every
    property the API tests check (equalities, shapes, files) holds for any weights."""
    from mmssl.checkpoint import save_checkpoint
    from mmssl.data.tokenizer import build_tokenizer
    from mmssl.methods import build_method

    shards = str(tiny_shards["howto100m"])
    config = load_config(TrainConfig, None, [f"--data.shards={shards}"])
    tokenizer = build_tokenizer(config.model, [shards])
    torch.manual_seed(0)
    method = build_method(config, tokenizer.vocab_size)
    return save_checkpoint(tmp_path_factory.mktemp("fresh") / "checkpoint", method, config,
                           tokenizer)


@pytest.fixture(scope="session")
def youcook_segments(tiny_world) -> list[dict]:
    """Every validation step of the tiny YouCook2: {video_id, path, start, end, sentence}."""
    from mmssl.prep.find_videos import locate_videos

    root = tiny_world / "youcook2"
    paths = locate_videos(root / "videos")
    database = json.loads((root / "youcookii_annotations_trainval.json").read_text())["database"]
    return [{"video_id": video_id, "path": paths[video_id], "start": float(step["segment"][0]),
             "end": float(step["segment"][1]), "sentence": step["sentence"]}
            for video_id, record in sorted(database.items()) if record["subset"] == "validation"
            for step in record["annotations"]]


@pytest.fixture(scope="session")
def run_gloo(tmp_path_factory):
    """``run_gloo(body, world=2)``: run the module-level function ``body(rank) -> dict`` in
    ``world`` real processes joined by a gloo group on CPU; returns the dicts by rank."""
    import torch
    import torch.multiprocessing as mp

    def run(body, world: int = 2) -> list[dict]:
        out = tmp_path_factory.mktemp("gloo")
        mp.spawn(gloo_process, args=(world, str(out / "store"), str(out), body),
                 nprocs=world, join=True)
        return [torch.load(out / f"rank{rank}.pt") for rank in range(world)]

    return run


# Encoder fixtures. ``one_thread``: on a shared 2-core machine two torch threads spin
# against each other and run small convolutions 10-50x slower (benchmarks/README.md).
BERT_CORPUS = ["cut the onion into small pieces", "whisk the eggs with sugar",
               "fry the onion until golden", "a small red ball rolls left",
               "the whistle sounds", "a big blue square moves up and buzzes"]


@pytest.fixture
def one_thread():
    """torch on one thread for the test; the previous count is put back after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    """``save_pretrained`` output of a 2-layer, 32-d BERT plus a WordPiece ``tokenizer.json``
    trained with ``tokenizers`` (nothing can be downloaded here)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel

    directory = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = trainers.WordPieceTrainer(vocab_size=80, special_tokens=specials)
    tokenizer.train_from_iterator(BERT_CORPUS, trainer)
    tokenizer.post_processor = processors.BertProcessing(
        ("[SEP]", tokenizer.token_to_id("[SEP]")), ("[CLS]", tokenizer.token_to_id("[CLS]")))
    tokenizer.save(str(directory / "tokenizer.json"))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=32,
                        num_hidden_layers=2, num_attention_heads=2, intermediate_size=48,
                        max_position_embeddings=32, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, pad_token_id=0)
    BertModel(config).save_pretrained(directory)
    return directory


# CLIP's specials; the tiny CLIP pads with its end token, as OpenAI's does.
CLIP_SPECIALS = ["<|startoftext|>", "<|endoftext|>"]


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory):
    """``save_pretrained`` output of a 2-layer, 32-d CLIP (32×32 images, 24-d projections)
    with a word-level ``tokenizer.json`` that brackets each text in CLIP's start and end
    tokens, and an image processor with its own mean and std (nothing is downloaded)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    directory = tmp_path_factory.mktemp("tiny_clip")
    tokenizer = Tokenizer(models.WordLevel(unk_token="<|endoftext|>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(BERT_CORPUS, trainers.WordLevelTrainer(
        special_tokens=CLIP_SPECIALS))
    bos, eos = (tokenizer.token_to_id(token) for token in CLIP_SPECIALS)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{CLIP_SPECIALS[0]} $A {CLIP_SPECIALS[1]}",
        special_tokens=[(CLIP_SPECIALS[0], bos), (CLIP_SPECIALS[1], eos)])
    tokenizer.save(str(directory / "tokenizer.json"))
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={"vocab_size": tokenizer.get_vocab_size(), "hidden_size": 32,
                     "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 2,
                     "max_position_embeddings": 16, "bos_token_id": bos, "eos_token_id": eos,
                     "pad_token_id": eos},
        vision_config={"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        projection_dim=24)
    CLIPModel(config).save_pretrained(directory)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                       image_mean=[0.5, 0.4, 0.3], image_std=[0.2, 0.25, 0.3]
                       ).save_pretrained(directory)
    return directory
