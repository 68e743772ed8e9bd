"""Write the synthetic world to disk in the public formats (``../shared/FORMATS.md``).

Layout under ``root``::

    howto100m/caption.json            {id: {"start": [...], "end": [...], "text": [...]}}
    howto100m/raw_caption.json        same, verbatim text
    howto100m/HowTo100M_v1.csv        video_id,task_id,rank,category_1,category_2
    howto100m/videos/<id>.mp4         H.264 + AAC (a few with no audio stream)
    youcook2/youcookii_annotations_trainval.json
    youcook2/videos/<subset>/<recipe_type>/<id>.mp4

Everything is a deterministic function of ``SynthConfig.seed``.
"""

from __future__ import annotations

import csv
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mmssl.config import SynthConfig
from mmssl.media.encode import VideoEncoding, write_mp4
from mmssl.synth.render import render_audio, render_frames
from mmssl.synth.world import (
    Event,
    event_timeline,
    howto_narrations,
    random_video_id,
    youcook_sentence,
)

STOP_WORDS = frozenset("a an the and it is you can see so here this one now while next".split())


@dataclass(frozen=True)
class VideoJob:
    path: Path
    events: tuple[Event, ...]
    duration: float
    seed: tuple[int, ...]
    with_audio: bool


def generate_world(root: str | Path, config: SynthConfig, progress: bool = True) -> dict:
    """Write both datasets under ``root``; returns counts of what was written."""
    root = Path(root)
    jobs = _howto_jobs(root / "howto100m", config) + _youcook_jobs(root / "youcook2", config)
    with ProcessPoolExecutor(max_workers=max(1, config.workers)) as pool:
        futures = [pool.submit(_write_video, job, config) for job in jobs]
        for future in tqdm(futures, desc="synth: videos", unit="video", disable=not progress):
            future.result()
    return {"howto100m_videos": config.howto_videos,
            "youcook2_videos": config.youcook_val_videos + config.youcook_train_videos}


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


def _write_video(job: VideoJob, config: SynthConfig) -> None:
    rng = np.random.default_rng(list(job.seed))
    frames = render_frames(list(job.events), job.duration, config.fps, config.width,
                           config.height, rng)
    audio = render_audio(list(job.events), job.duration, config.audio_rate, rng)
    encoding = VideoEncoding(fps=config.fps, gop=int(config.fps * 4), preset="ultrafast", bframes=2)
    tmp = job.path.with_suffix(".part.mp4")
    write_mp4(tmp, frames, encoding, audio if job.with_audio else None, config.audio_rate)
    tmp.replace(job.path)


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
