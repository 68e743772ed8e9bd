"""Rendering and encoding synthetic videos, one job per file, in a process pool."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mmssl.media.encode import VideoEncoding, write_mp4
from mmssl.synth.render import render_audio, render_frames
from mmssl.synth.world import Event


@dataclass(frozen=True)
class VideoJob:
    """One file to write: its events, length, RNG seed, and whether it has a sound track."""

    path: Path
    events: tuple[Event, ...]
    duration: float
    seed: tuple[int, ...]
    with_audio: bool


@dataclass(frozen=True)
class MediaSettings:
    """Geometry and rates of written videos (H.264 with B-frames and a 4-s GOP, AAC)."""

    width: int = 128
    height: int = 96
    fps: float = 16.0
    audio_rate: int = 22050


def write_video(job: VideoJob, media: MediaSettings) -> None:
    """Render and encode one video; written under a temporary name, then renamed."""
    rng = np.random.default_rng(list(job.seed))
    frames = render_frames(list(job.events), job.duration, media.fps, media.width,
                           media.height, rng)
    audio = render_audio(list(job.events), job.duration, media.audio_rate, rng)
    encoding = VideoEncoding(fps=media.fps, gop=int(media.fps * 4), preset="ultrafast",
                             bframes=2)
    tmp = job.path.with_suffix(".part.mp4")
    write_mp4(tmp, frames, encoding, audio if job.with_audio else None, media.audio_rate)
    tmp.replace(job.path)


def write_videos(jobs: list[VideoJob], media: MediaSettings, workers: int,
                 progress: bool = False, desc: str = "synth: videos") -> None:
    """Every job, ``workers`` at a time, with a progress bar."""
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(write_video, job, media) for job in jobs]
        for future in tqdm(futures, desc=desc, unit="video", disable=not progress):
            future.result()
