"""Write the synthetic world to disk in the public formats (``docs/formats.md``).

Layout under ``root``::

    howto100m/caption.json            {id: {"start": [...], "end": [...], "text": [...]}}
    howto100m/raw_caption.json        same, verbatim text
    howto100m/HowTo100M_v1.csv        video_id,task_id,rank,category_1,category_2
    howto100m/videos/<id>.mp4         H.264 + AAC (a few with no audio stream)
    youcook2/youcookii_annotations_trainval.json
    youcook2/videos/<subset>/<recipe_type>/<id>.mp4
    coin/COIN.json, coin/videos/<id>.mp4                  (see mmssl.synth.coin)
    audioset/*_segments.csv, class_labels_indices.csv, ontology.json, clips/...
                                                          (see mmssl.synth.audioset)

Everything is a deterministic function of ``SynthConfig.seed``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from mmssl.config import SynthConfig
from mmssl.synth.audioset import write_audioset
from mmssl.synth.coin import write_coin
from mmssl.synth.videos import MediaSettings, VideoJob, write_videos
from mmssl.synth.world import (
    event_timeline,
    howto_narrations,
    random_video_id,
    youcook_sentence,
)

STOP_WORDS = frozenset("a an the and it is you can see so here this one now while next".split())


def generate_world(root: str | Path, config: SynthConfig, progress: bool = True) -> dict:
    """Write both datasets under ``root``; returns counts of what was written."""
    root = Path(root)
    jobs = _howto_jobs(root / "howto100m", config) + _youcook_jobs(root / "youcook2", config)
    media = MediaSettings(config.width, config.height, config.fps, config.audio_rate)
    write_videos(jobs, media, config.workers, progress)
    counts = {"howto100m_videos": config.howto_videos,
              "youcook2_videos": config.youcook_val_videos + config.youcook_train_videos}
    if config.coin_videos:
        write_coin(root / "coin", config.coin_videos, config.seed, media,
                   workers=config.workers)
        counts["coin_videos"] = config.coin_videos
    if config.audioset_clips:
        write_audioset(root / "audioset", config.audioset_clips, config.seed)
        counts["audioset_clips"] = config.audioset_clips
    return counts


def _howto_jobs(root: Path, config: SynthConfig) -> list[VideoJob]:
    (root / "videos").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([config.seed, 1])
    captions, raw_captions, rows, jobs = {}, {}, [], []
    for index in range(config.howto_videos):
        video_id = random_video_id(rng)
        duration = float(round(rng.uniform(*config.howto_seconds), 2))
        events = event_timeline(rng, duration)
        narrations = howto_narrations(rng, events, duration)
        raw_captions[video_id] = _caption_lists(narrations, lambda text: text)
        captions[video_id] = _caption_lists(narrations, _remove_stop_words)
        task_id = int(rng.integers(10000, 10020))
        rows.append([video_id, task_id, int(rng.integers(1, 200)), "Synthetic", f"Task {task_id}"])
        with_audio = bool(rng.uniform() >= config.no_audio_fraction)
        jobs.append(VideoJob(root / "videos" / f"{video_id}.mp4", tuple(events), duration,
                             (config.seed, 1, index), with_audio))
    _write_json(root / "caption.json", captions)
    _write_json(root / "raw_caption.json", raw_captions)
    with open(root / "HowTo100M_v1.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video_id", "task_id", "rank", "category_1", "category_2"])
        writer.writerows(rows)
    return jobs


def _youcook_jobs(root: Path, config: SynthConfig) -> list[VideoJob]:
    rng = np.random.default_rng([config.seed, 2])
    database, jobs = {}, []
    subsets = (["validation"] * config.youcook_val_videos
               + ["training"] * config.youcook_train_videos)
    for index, subset in enumerate(subsets):
        video_id = random_video_id(rng)
        recipe_type = str(int(rng.integers(101, 111)))
        duration = float(round(rng.uniform(*config.youcook_seconds), 2))
        events = event_timeline(rng, duration, whole_seconds=True)
        annotations = [
            {"segment": [int(e.start), int(e.end)], "id": i, "sentence": youcook_sentence(e)}
            for i, e in enumerate(events)
        ]
        database[video_id] = {
            "duration": duration, "subset": subset, "recipe_type": recipe_type,
            "annotations": annotations, "video_url": f"https://www.youtube.com/watch?v={video_id}",
        }
        path = root / "videos" / subset / recipe_type / f"{video_id}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        jobs.append(VideoJob(path, tuple(events), duration, (config.seed, 2, index), True))
    _write_json(root / "youcookii_annotations_trainval.json", {"database": database})
    return jobs


def _caption_lists(narrations, transform) -> dict:
    return {
        "start": [round(n.start, 2) for n in narrations],
        "end": [round(n.end, 2) for n in narrations],
        "text": [transform(n.text) for n in narrations],
    }


def _remove_stop_words(text: str) -> str:
    return " ".join(word for word in text.split() if word not in STOP_WORDS)


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
