"""Zero-shot text→video(+audio) retrieval on YouCook2-format shards (the MIL-NCE protocol).

For each validation segment: W windows of the model's clip length with starts
``linspace(start, max(start, end - clip_len), W)``; each window is embedded and the W
embeddings are **averaged**. The query is the segment's sentence. Scores are
in the space where each pair meets (S_vat for MMV-FAC, the shared space for AVLnet/CLIP):

- text→video:        S = z_t^vt · mean_w z_v^vt
- text→audio:        S = z_t^at · mean_w z_a^at       (MMV: audio through g_va→vat)
- text→video+audio:  S = z_t^vt · mean_w z_v^vt + z_t^at · mean_w z_a^at
                     (= z_t · (z_v + z_a), AVLnet's sum, wherever vt and at share a space)

A clip with no audio track scores with its video alone in the last two; a method without
an audio tower reports text→video only.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import webdataset as wds
from tqdm import tqdm

from mmssl.checkpoint import load_checkpoint
from mmssl.config import EvalConfig, save_config, to_dict
from mmssl.data.candidates import window_starts
from mmssl.data.clips import ClipCutter
from mmssl.data.pipeline import SkipCounter, open_samples, shard_paths
from mmssl.eval.metrics import retrieval_metrics
from mmssl.media.logmel import LogMel

NAME = 40  # width of the table's first column
DIRECTIONS = ("text->video", "text->audio", "text->video+audio")
PUBLISHED_T2V = {  # zero-shot text→video on YouCook2 (PROTOCOLS.md): R@1, R@5, R@10, MedR
    "HowTo100M (Miech 2019)": (0.061, 0.173, 0.248, 46),
    "MIL-NCE (Miech 2020)": (0.151, 0.380, 0.512, 10),
    "MMV (Alayrac 2020)": (0.117, 0.334, 0.454, 13),
}


@torch.no_grad()
def embed_segments(method, cutter: ClipCutter, tokenizer, max_words: int, shards: str,
                   subset: str, windows: int, progress: bool = True) -> dict:
    """Averaged window embeddings of every segment of ``subset``; returns tensors
    ``video`` (N, D), ``audio`` (N, D) when the method hears, ``text_vt``/``text_at``
    (N, D), ``has_audio`` (N,), and ``keys``."""
    if "text" not in method.modalities:
        raise ValueError(f"{type(method).__name__} has no text tower: zero-shot retrieval "
                         "needs one")
    hears = "audio" in method.modalities
    skip = SkipCounter()
    raw = wds.tarfile_to_samples(handler=skip.handler)([{"url": p} for p in shard_paths(shards)])
    out = {"video": [], "audio": [], "text_vt": [], "text_at": [], "has_audio": [], "keys": []}
    for sample in tqdm(open_samples(raw, skip), desc="eval: embed", unit="clip",
                       disable=not progress):
        if sample.meta.get("labels", {}).get("subset", subset) != subset:
            continue
        starts = window_starts(sample.duration, cutter.clip_seconds(sample.fps), windows)
        video = torch.stack([cutter.video(sample, s) for s in starts])
        out["video"].append(method.embed("video", video)["vt"].mean(0))
        if hears:
            audio = torch.stack([cutter.audio(sample, s)[0] for s in starts])
            out["audio"].append(method.embed("audio", audio)["at"].mean(0))
        text = method.embed("text", tokenizer([sample.meta["texts"][0]["text"]], max_words))
        out["text_vt"].append(text["vt"][0])
        out["text_at"].append(text.get("at", text["vt"])[0])
        out["has_audio"].append(sample.has_audio and hears)
        out["keys"].append(f"{sample.meta['video_id']}@{sample.meta['start']:.2f}")
    if not out["keys"]:
        raise ValueError(f"{shards}: no {subset!r} segments to evaluate")
    result = {k: torch.stack(v) for k, v in out.items() if v and k not in ("keys", "has_audio")}
    result["has_audio"] = torch.tensor(out["has_audio"])
    result["keys"], result["skipped"] = out["keys"], dict(skip.counts)
    return result


def retrieval_results(embeddings: dict) -> dict:
    """Metrics for each direction of :data:`DIRECTIONS` the method can score."""
    to_video = embeddings["text_vt"] @ embeddings["video"].T
    if "audio" not in embeddings:
        return {"text->video": retrieval_metrics(to_video)}
    audio = embeddings["audio"] * embeddings["has_audio"][:, None]
    to_audio = embeddings["text_at"] @ audio.T
    scores = {"text->video": to_video, "text->audio": to_audio,
              "text->video+audio": to_video + to_audio}
    return {name: retrieval_metrics(scores[name]) for name in DIRECTIONS}


def evaluate_youcook2(checkpoint: str | Path, config: EvalConfig, progress: bool = True) -> dict:
    """Run the protocol; writes ``eval_youcook2.json`` and the eval config next to the
    checkpoint and returns the results."""
    checkpoint = Path(checkpoint)
    method, train_config, tokenizer = load_checkpoint(checkpoint)
    data = train_config.data
    cutter = ClipCutter(data.clip_frames, LogMel(n_mels=data.n_mels, window_ms=data.window_ms,
                                                 hop_ms=data.hop_ms))
    embeddings = embed_segments(method, cutter, tokenizer, data.max_words, config.shards,
                                config.subset, config.windows, progress)
    results = {
        "protocol": {"windows": config.windows, "subset": config.subset,
                     "clips": len(embeddings["keys"]), "clip_frames": data.clip_frames},
        "metrics": retrieval_results(embeddings), "skipped": embeddings["skipped"],
        "eval_config": to_dict(config),
    }
    (checkpoint / "eval_youcook2.json").write_text(json.dumps(results, indent=1))
    save_config(config, checkpoint / "eval_config.yaml")
    return results


def format_table(results: dict) -> str:
    """Results as a fixed-width table, chance level and published numbers beside ours."""
    clips = results["protocol"]["clips"]
    lines = [f"Zero-shot retrieval, YouCook2 format, {clips} clips, "
             f"{results['protocol']['windows']} windows averaged",
             f"{'direction':<{NAME}}{'R@1':>7}{'R@5':>7}{'R@10':>7}{'MedR':>7}{'MnR':>8}"]
    for name, m in results["metrics"].items():
        lines.append(f"{'ours ' + name:<{NAME}}{m['R@1']:>7.3f}{m['R@5']:>7.3f}{m['R@10']:>7.3f}"
                     f"{m['MedR']:>7.1f}{m['MnR']:>8.1f}")
    lines.append(f"{'chance':<{NAME}}{1 / clips:>7.3f}{5 / clips:>7.3f}{10 / clips:>7.3f}"
                 f"{(clips + 1) / 2:>7.1f}{(clips + 1) / 2:>8.1f}")
    for name, (r1, r5, r10, medr) in PUBLISHED_T2V.items():
        lines.append(f"{'paper t->v ' + name:<{NAME}}{r1:>7.3f}{r5:>7.3f}{r10:>7.3f}{medr:>7.1f}"
                     f"{'-':>8}")
    lines.append("(published rows: real YouCook2 after HowTo100M pretraining; not comparable "
                 "to the synthetic world)")
    return "\n".join(lines)
