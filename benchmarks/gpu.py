"""The GPU training path, measured: the paper configs in bf16 on one device, fed by the real
shard loader and by the same batches held in memory.

    python benchmarks/gpu.py [--shards DIR|URL] [--configs milnce mmv_fac clip]
        [--workers N] [--steps 30] [--variants eager channels_last compile]
        [--json benchmarks/results/gpu.json]
    python benchmarks/gpu.py --cpu-tiny [--shards DIR]     # the same path, tiny, on CPU

Configs (``--cpu-tiny``: the same methods with the tiny encoders, 8 × 32² clips, batch 4):

- ``milnce``: MIL-NCE, S3D-G (``s3dg`` when registered, else torchvision's ``s3d``; the
  JSON says which) and word max-pool, 32 frames at 224², K = 5 narrations, batch 32;
- ``mmv_fac``: MMV FAC with audio, S3D + audio ResNet-50 on log-mel, 32 × 224², batch 32;
- ``clip``: CLIP-style frame-wise ResNet-50 and word max-pool, 8 frames at 224², batch 32.

For each config, one optimiser step = ``method.loss(method(batch))``, backward, AdamW,
under bf16 autocast:

1. ``memory``: batches taken from the real loader beforehand, held in (pinned) host memory
   and copied to the device each step as the loader's are — the device's own speed, for
   each ``--variants`` (``eager``; ``channels_last``: 5-D weights and clips in
   ``channels_last_3d``, 4-D weights in ``channels_last``; ``compile``: every encoder through
   ``torch.compile``, its compilation left out of the timing);
2. ``loader``: the same model (eager) fed by ``TrainingStream`` through a DataLoader with
   ``--workers`` workers (default: the process's cores − 1) and pinned memory; ``data
   wait`` = the fraction of wall time the step waited for the next batch.

Then the loader's decoding rate per core (``TrainingStream`` in this process, one thread,
clips per CPU second) gives the cores one device needs to be fed at its ``memory`` rate:
``decode cores per GPU = memory clips/s ÷ clips per core-second`` — the answer when
``data wait`` is above 5% with the workers this machine has. Last, the chunked MIL-NCE loss
(:class:`~mmssl.losses.ChunkedMILNCELoss`, K = 5, D = 512) forward + backward at the paper's
global batch of 8,192 (``--cpu-tiny``: 256): seconds and peak memory.

Without ``--shards``, a synthetic HowTo100M world is generated and prepared at the short
side of the crop (224; ``--cpu-tiny``: 48) in a temporary directory. Peak memory is
``torch.cuda.max_memory_allocated`` (on CPU: the process's peak resident size).
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

import torch

from mmssl.config import PrepConfig, SynthConfig, TrainConfig, load_config
from mmssl.data.shards import read_metas
from mmssl.data.threads import core_share
from mmssl.data.tokenizer import WordTokenizer
from mmssl.data.training_stream import TrainingStream
from mmssl.losses import ChunkedMILNCELoss
from mmssl.methods import build_method
from mmssl.models import VIDEO_ENCODERS
from mmssl.prep.howto100m import prepare
from mmssl.synth.generate import generate_world

MILNCE_VIDEO = "s3dg" if "s3dg" in VIDEO_ENCODERS.list() else "s3d"
PAPER = {
    "milnce": ["--method=milnce", f"--model.video_encoder={MILNCE_VIDEO}",
               "--model.word_dim=300", "--model.text_width=512", "--data.num_candidates=5",
               "--data.clip_frames=32", "--data.crop_size=[224,224]"],
    "mmv_fac": ["--method=mmv", "--model.space=fac", "--model.video_encoder=s3d",
                "--model.audio_encoder=audio_resnet50", "--data.clip_frames=32",
                "--data.crop_size=[224,224]", "--model.word_dim=300",
                "--model.text_width=512"],
    "clip": ["--method=clip", "--model.video_encoder=framewise_resnet50",
             "--data.num_candidates=1", "--data.clip_frames=8", "--data.crop_size=[224,224]",
             "--model.word_dim=300", "--model.text_width=512"],
}
TINY_ENCODERS = {"milnce": "s3d_tiny", "mmv_fac": "tiny3d", "clip": "framewise_tiny"}
TINY = ["--data.clip_frames=8", "--data.crop_size=[32,32]", "--model.audio_encoder=tiny_audio",
        "--model.word_dim=16", "--model.text_width=16"]


def train_config(name: str, shards: str, batch: int, tiny: bool) -> TrainConfig:
    overrides = [*PAPER[name], f"--data.shards={shards}", f"--data.batch_size={batch}",
                 "--data.shuffle_buffer=64", "--mixed_precision=bf16"]
    if tiny:
        overrides += [*TINY, f"--model.video_encoder={TINY_ENCODERS[name]}"]
    config = load_config(TrainConfig, None, overrides)
    if config.method == "milnce":
        config.model.audio_encoder = TrainConfig().model.audio_encoder  # no audio tower
    return config


def make_shards(root: Path, short_side: int, videos: int) -> str:
    generate_world(root / "world", SynthConfig(howto_videos=videos, youcook_val_videos=0,
                                               youcook_train_videos=0, coin_videos=0,
                                               audioset_clips=0), progress=False)
    howto, out = root / "world" / "howto100m", str(root / "shards")
    prepare(howto / "caption.json", howto / "videos", out,
            PrepConfig(short_side=short_side, samples_per_shard=2), progress=False)
    return out


def to_device(batch: dict, device: torch.device, layout: str) -> dict:
    out = {}
    for key, value in batch.items():
        if torch.is_tensor(value):
            value = value.to(device, non_blocking=True)
            if layout == "channels_last" and key.startswith("video"):
                value = value.contiguous(memory_format=torch.channels_last_3d)
        if key != "skipped":
            out[key] = value
    return out


def channels_last(module: torch.nn.Module) -> None:
    """Every 5-D weight in ``channels_last_3d``, every 4-D one in ``channels_last`` (a
    tower may mix 3-D and 2-D convolutions)."""
    formats = {5: torch.channels_last_3d, 4: torch.channels_last}
    for param in module.parameters():
        if param.dim() in formats:
            param.data = param.data.contiguous(memory_format=formats[param.dim()])


class Trainer:
    """One method and its optimiser on ``device``, in the layout and mode of ``variant``."""

    def __init__(self, config: TrainConfig, vocab: int, device, variant: str):
        torch.manual_seed(0)
        self.method = build_method(config, vocab).to(device).train()
        self.device, self.variant = device, variant
        towers = self.method.towers
        if variant == "channels_last":
            channels_last(self.method)
        if variant == "compile":
            for name in list(towers):
                towers[name] = torch.compile(towers[name])
        self.optimizer = torch.optim.AdamW(self.method.parameters(), lr=1e-4)

    def step(self, batch: dict) -> None:
        batch = to_device(batch, self.device, self.variant)
        with torch.autocast(self.device.type, dtype=torch.bfloat16):
            loss = self.method.loss(self.method(batch, features_only=True))["loss"]
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()


def peak_gib(device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def timed(trainer: Trainer, batches, warmup: int, steps: int, clips: int) -> dict:
    """Steps/s, clips/s, data-wait fraction and peak memory over ``steps`` steps after
    ``warmup`` (compilation and first allocations) steps."""
    for batch in itertools.islice(batches, warmup):
        trainer.step(batch)
    trainer.sync()
    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    waited, started = 0.0, time.perf_counter()
    for _ in range(steps):
        fetched = time.perf_counter()
        batch = next(batches)
        waited += time.perf_counter() - fetched
        trainer.step(batch)
    trainer.sync()
    wall = time.perf_counter() - started
    return {"steps_per_s": round(steps / wall, 3), "clips_per_s": round(steps * clips / wall, 1),
            "data_wait_fraction": round(waited / wall, 3),
            "peak_gib": round(peak_gib(trainer.device), 2)}


def loader(config: TrainConfig, tokenizer, workers: int, pin: bool):
    stream = TrainingStream(config.data, tokenizer, seed=0)
    return iter(torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers,
                                            pin_memory=pin))


def decode_rate_per_core(config: TrainConfig, tokenizer, batches: int) -> float:
    """Clips per CPU second of ``TrainingStream`` in this process with one torch thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    stream = iter(TrainingStream(config.data, tokenizer, seed=1))
    next(stream)
    cpu = time.process_time()
    for _ in range(batches):
        next(stream)
    rate = batches * config.data.batch_size / (time.process_time() - cpu)
    torch.set_num_threads(threads)
    return rate


def chunked_loss(batch: int, device, k: int = 5, dim: int = 512) -> dict:
    """ChunkedMILNCELoss forward + backward at ``batch``: seconds (best of 3), peak."""
    g = torch.Generator().manual_seed(0)
    video = torch.randn(batch, dim, generator=g).to(device).requires_grad_(True)
    text = torch.randn(batch, k, dim, generator=g).to(device).requires_grad_(True)
    loss = ChunkedMILNCELoss(normalize=True, temperature=0.07)
    best = float("inf")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for _ in range(3):
        started = time.perf_counter()
        loss(video, text).backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return {"global_batch": batch, "candidates": k, "dim": dim, "seconds": round(best, 4),
            "peak_gib": round(peak_gib(device), 2)}


def bench(name: str, args, shards: str, tokenizer, device) -> list[dict]:
    config = train_config(name, shards, args.batch, args.cpu_tiny)
    vocab, clips = tokenizer.vocab_size, config.data.batch_size
    pin = device.type == "cuda"
    held = [b for b in itertools.islice(loader(config, tokenizer, args.workers, False),
                                        args.held)]
    if pin:
        held = [{k: v.pin_memory() if torch.is_tensor(v) else v for k, v in b.items()}
                for b in held]
    base = {"config": name, "video_encoder": config.model.video_encoder,
            "clip": [config.data.clip_frames, *config.data.crop_size], "batch": clips}
    rows = []
    for variant in args.variants:
        trainer = Trainer(config, vocab, device, variant)
        rows.append({**base, "source": "memory", "variant": variant,
                     **timed(trainer, itertools.cycle(held), args.warmup, args.steps, clips)})
        print(row_text(rows[-1]), flush=True)
    trainer = Trainer(config, vocab, device, "eager")
    rows.append({**base, "source": "loader", "variant": "eager", "workers": args.workers,
                 **timed(trainer, loader(config, tokenizer, args.workers, pin), args.warmup,
                         args.steps, clips)})
    per_core = decode_rate_per_core(config, tokenizer, args.rate_batches)
    eager = next(r for r in rows if r["source"] == "memory" and r["variant"] == "eager")
    rows[-1].update(decode_clips_per_core_s=round(per_core, 1),
                    decode_cores_per_gpu=round(eager["clips_per_s"] / per_core, 2))
    print(row_text(rows[-1]), flush=True)
    return rows


def row_text(row: dict) -> str:
    extra = (f"  {row['decode_cores_per_gpu']} decode cores per device "
             f"({row['decode_clips_per_core_s']} clips/core-s)"
             if "decode_cores_per_gpu" in row else "")
    return (f"{row['config']:<9}{row['video_encoder']:<20}{row['source']:<8}"
            f"{row['variant']:<15}{row['steps_per_s']:>8.3f}{row['clips_per_s']:>9.1f}"
            f"{row['data_wait_fraction']:>7.3f}{row['peak_gib']:>8.2f}{extra}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpu-tiny", action="store_true",
                        help="tiny encoders and clips on the CPU (what the tests run)")
    parser.add_argument("--shards", help="prepared shards (a directory or URL) to read")
    parser.add_argument("--configs", nargs="+", default=list(PAPER), choices=list(PAPER))
    parser.add_argument("--variants", nargs="+", choices=["eager", "channels_last", "compile"])
    parser.add_argument("--workers", type=int, help="loader workers (default: cores − 1)")
    parser.add_argument("--batch", type=int)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--warmup", type=int)
    parser.add_argument("--videos", type=int, default=24, help="synthetic videos to prepare")
    parser.add_argument("--json", default="benchmarks/results/gpu.json")
    args = parser.parse_args()
    tiny = args.cpu_tiny
    args.variants = args.variants or (["eager", "channels_last"] if tiny
                                      else ["eager", "channels_last", "compile"])
    args.workers = args.workers if args.workers is not None else (
        1 if tiny else max(1, core_share() - 1))
    args.batch = args.batch or (4 if tiny else 32)
    args.steps, args.warmup = args.steps or (2 if tiny else 30), args.warmup or (1 if tiny else 5)
    args.held, args.rate_batches = (2, 1) if tiny else (8, 4)
    device = torch.device("cpu" if tiny or not torch.cuda.is_available() else "cuda")
    if device.type == "cpu" and not tiny:
        raise SystemExit("no CUDA device: run with --cpu-tiny to check the script on CPU")
    with tempfile.TemporaryDirectory(prefix="mmssl-gpu-bench-") as tmp:
        shards = args.shards or make_shards(Path(tmp), 48 if tiny else 224, args.videos)
        texts = (t["text"] for meta in read_metas(shards) for t in meta["texts"])
        tokenizer = WordTokenizer.train(texts)
        print(f"{'config':<9}{'video encoder':<20}{'source':<8}{'variant':<15}{'steps/s':>8}"
              f"{'clips/s':>9}{'wait':>7}{'peak GiB':>8}")
        rows = [row for name in args.configs for row in bench(name, args, shards, tokenizer,
                                                                device)]
        loss = chunked_loss(256 if tiny else 8192, device)
    print(f"chunked MIL-NCE at global batch {loss['global_batch']}: {loss['seconds']} s "
          f"forward + backward, peak {loss['peak_gib']} GiB")
    record = {"machine": {"platform": platform.platform(), "device": str(device),
                          "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
                          "torch": torch.__version__, "cores": core_share()},
              "cpu_tiny": tiny, "milnce_video_encoder": MILNCE_VIDEO, "rows": rows,
              "chunked_loss": loss}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
