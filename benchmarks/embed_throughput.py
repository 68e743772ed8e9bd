"""Embedding throughput: raw videos (``mmssl embed --videos``) against their prepared
shards (``mmssl prep videos`` then ``mmssl embed --shards``), side by side in one run,
and what skipping prep's re-encode (``--reencode=false``) changes.

    python benchmarks/embed_throughput.py [--out DIR] [--videos 12] [--window 4]
        [--windows 10] [--repeats 2] [--json benchmarks/results/embed_throughput.json]

Synthesises YouCook2-format videos (the demo's 128×96, 16 fps H.264 + AAC; HowTo100M
shrunk to 8 videos, only for the tokenizer), saves an untrained MMV-FAC checkpoint with the
demo's encoders (``optim.max_steps=0``: embedding costs the same for any weights), and
times, each ``--repeats`` times interleaved (the best kept; the machine is shared):

- ``shards``: :func:`mmssl.eval.embed.embed_shards` over shards of the same windows (the
  one-off ``prep videos`` cost reported beside);
- ``raw``: :func:`mmssl.api.collection.embed_videos`, each window prepared in memory
  exactly as prep does (decode, resample, scale, H.264/AAC re-encode);
- ``raw, no re-encode``: the same with ``reencode=False``.

A *span* is one window of ``--window`` seconds (one output row); a *clip* is one of the
``--windows`` encoder inputs averaged per span. Agreement (:func:`compare`): the largest
difference between ``raw`` and ``shards`` rows (float rounding only: the same bytes), and
how far ``raw, no re-encode`` rows move from ``raw`` ones. ``--checkpoint`` measures a
trained checkpoint instead (it must record its prep settings).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

import mmssl
from mmssl.api.collection import embed_videos, read_part, read_video_sources
from mmssl.config import DemoConfig, EmbedConfig, load_config
from mmssl.eval.embed import embed_shards
from mmssl.prep import howto100m
from mmssl.prep import videos as prep_videos
from mmssl.synth import generate_world
from mmssl.train import train


def setup(out: Path, videos: int) -> tuple[Path, Path]:
    """(checkpoint, folder of raw videos) under ``out``, made once and reused."""
    checkpoint, raw = out / "run" / "checkpoint", out / "world" / "youcook2" / "videos"
    if checkpoint.is_dir():
        return checkpoint, raw
    config = load_config(DemoConfig, None, [
        "--synth.howto_videos=8", f"--synth.youcook_val_videos={videos}",
        "--synth.youcook_train_videos=0", "--synth.coin_videos=0",
        "--synth.audioset_clips=0", "--train.optim.max_steps=0"])
    generate_world(out / "world", config.synth, progress=False)
    h = out / "world" / "howto100m"
    howto100m.prepare(h / "caption.json", h / "videos", out / "howto100m", config.prep,
                      h / "HowTo100M_v1.csv", progress=False)
    config.train.data.shards, config.train.output_dir = (str(out / "howto100m"),
                                                         str(out / "run"))
    return train(config.train, progress=False), raw


def timed(run) -> tuple[float, object]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--checkpoint", help="a trained checkpoint (default: untrained)")
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--window", type=float, default=4.0)
    parser.add_argument("--windows", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", default="benchmarks/results/embed_throughput.json")
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="mmssl-embed-throughput-"))
    checkpoint, raw = setup(out, args.videos)
    checkpoint = Path(args.checkpoint) if args.checkpoint else checkpoint
    sources = read_video_sources(raw)
    config = EmbedConfig(window=args.window, windows=args.windows, part_videos=len(sources))
    shards = out / "shards"
    prep_seconds, _ = timed(lambda: prep_videos.prepare(
        raw, shards, mmssl.load(checkpoint).require_prep(), args.window, progress=False))

    def raw_run(reencode: bool, name: str):
        model = mmssl.load(checkpoint, windows=args.windows, reencode=reencode)
        target = out / f"{name}-{time.monotonic_ns()}.safetensors"
        embed_videos(model, sources, target, config, ("video", "audio"), progress=False)
        keys, arrays, _ = read_part(target)
        target.unlink()
        return keys, arrays

    runs = {"shards": lambda: embed_shards(checkpoint, str(shards), ["video", "audio"],
                                           windows=args.windows),
            "raw": lambda: raw_run(True, "raw"),
            "raw, no re-encode": lambda: raw_run(False, "fast")}
    best: dict[str, float] = {}
    results: dict[str, tuple] = {}
    for _ in range(args.repeats):
        for name, run in runs.items():
            seconds, results[name] = timed(run)
            best[name] = min(best.get(name, seconds), seconds)
    spans = len(results["raw"][0])
    rows = {name: {"seconds": round(s, 2), "spans_per_s": round(spans / s, 2),
                   "clips_per_s": round(spans * args.windows / s, 1)}
            for name, s in best.items()}
    agreement = compare(results)
    print(f"{len(sources)} videos, {spans} spans of {args.window:g} s, {args.windows} clips "
          f"each; prep videos (one-off): {prep_seconds:.1f} s")
    print(f"{'path':<22}{'seconds':>9}{'spans/s':>10}{'clips/s':>10}")
    for name, row in rows.items():
        print(f"{name:<22}{row['seconds']:>9.2f}{row['spans_per_s']:>10.2f}"
              f"{row['clips_per_s']:>10.1f}")
    print(json.dumps(agreement, indent=1))
    record = {"machine": {"platform": platform.platform(), "threads": torch.get_num_threads()},
              "videos": len(sources), "spans": spans, "window_s": args.window,
              "clips_per_span": args.windows, "prep_videos_s": round(prep_seconds, 2),
              "paths": rows, "agreement": agreement}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1) + "\n")


def compare(results: dict[str, tuple]) -> dict:
    """Per array: the largest |raw − shards|; for no-re-encode rows against raw rows, the
    cosine, the change relative to how far apart spans are (‖fast_i − raw_i‖ over the
    median ‖raw_i − raw_j‖, j ≠ i: meaningful for untrained weights too, whose embeddings
    all point alike)."""
    shard_keys, shard_arrays = results["shards"]
    raw_keys, raw_arrays = results["raw"]
    fast_keys, fast_arrays = results["raw, no re-encode"]
    assert [k.rpartition("-")[0] for k in raw_keys] == shard_keys and fast_keys == raw_keys
    out = {}
    for name in ("video.vt", "audio.at"):
        raw, fast = raw_arrays[name], fast_arrays[name]
        cosine = torch.nn.functional.cosine_similarity(fast, raw)
        between = torch.cdist(raw, raw)
        between.fill_diagonal_(float("nan"))
        relative = (fast - raw).norm(dim=1) / between.nanmedian(dim=1).values
        out[name] = {"raw_vs_shards_max_abs": float((raw - shard_arrays[name]).abs().max()),
                     "no_reencode_cosine_min": round(float(cosine.min()), 6),
                     "no_reencode_relative_change_median": round(float(relative.median()), 4),
                     "no_reencode_relative_change_max": round(float(relative.max()), 4)}
    return out


if __name__ == "__main__":
    main()
