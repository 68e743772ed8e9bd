"""The real sources of ``tests/real_media`` and how they are made: H.264 encodes as cameras
and YouTube deliver them (B-frames, long GOPs, AAC stereo at 44.1 kHz) in 16:9, 4:3 and
vertical 9:16, an MKV with H.264 and Opus, and what points at them (captions, video lists).
Built with PyAV (``mmssl.media.encode`` and ``av`` directly); the fixtures in conftest.py
make them once per session."""

import csv
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from mmssl.config import PrepConfig
from mmssl.media.encode import VideoEncoding, write_mp4

SECONDS = 6.0
FPS = 25.0
AUDIO_RATE = 44100


@dataclass(frozen=True)
class Source:
    """One real source: its id, file name, frame size (width × height) and container."""

    video_id: str
    name: str
    width: int
    height: int


# Ids as YouTube's: 11 characters of [A-Za-z0-9_-].
SOURCES = (Source("wide16by9_A", "wide16by9_A.mp4", 160, 90),
           Source("classic4by3", "classic4by3.mp4", 96, 72),
           Source("vertical9x6", "vertical9x6.mp4", 72, 128),
           Source("matroskaOPS", "matroskaOPS.mkv", 128, 72))
BROKEN = {"truncatedmp": "truncatedmp.mp4", "truncatedmk": "truncatedmk.mkv",
          "corruptedmp": "corruptedmp.mp4"}
PREP = PrepConfig(samples_per_shard=2, workers=2)


def moving_scene(width: int, height: int, seconds: float, fps: float, seed: int) -> np.ndarray:
    """(T, H, W, 3) uint8: a textured background panning right and a bright square
    crossing it — enough motion and detail for the encoder to make real P- and B-frames."""
    rng = np.random.default_rng(seed)
    count = int(round(seconds * fps))
    texture = rng.integers(40, 200, (height, width * 2, 3), dtype=np.uint8)
    frames = np.empty((count, height, width, 3), np.uint8)
    side = max(8, min(width, height) // 4)
    for index in range(count):
        shift = index % width
        frames[index] = texture[:, shift : shift + width]
        top = int((height - side) * (0.5 + 0.4 * np.sin(index / 9)))
        left = int((width - side) * index / max(count - 1, 1))
        frames[index, top : top + side, left : left + side] = (250, 240, 40)
    return frames


def stereo_tone(seconds: float, rate: int, hz: float) -> np.ndarray:
    """(2, N) float32: a tone, louder on the left."""
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * hz * t).astype(np.float32)
    return np.stack([wave, 0.5 * wave])


def write_h264_mp4(path: Path, source: Source, seed: int) -> None:
    """H.264 with 3 B-frames and a GOP longer than the clip (one keyframe), AAC stereo."""
    frames = moving_scene(source.width, source.height, SECONDS, FPS, seed)
    encoding = VideoEncoding(fps=FPS, gop=250, crf=26, preset="veryfast", bframes=3)
    write_mp4(path, frames, encoding, stereo_tone(SECONDS, AUDIO_RATE, 220 + 40 * seed),
              AUDIO_RATE)


def write_h264_opus_mkv(path: Path, source: Source, seed: int) -> None:
    """Matroska with H.264 (B-frames) and Opus at 48 kHz stereo, as YouTube downloaders
    often save."""
    frames = moving_scene(source.width, source.height, SECONDS, FPS, seed)
    audio = stereo_tone(SECONDS, 48000, 330)
    with av.open(str(path), "w", format="matroska") as container:
        video = container.add_stream("libx264", rate=Fraction(int(FPS)))
        video.width, video.height, video.pix_fmt = source.width, source.height, "yuv420p"
        video.options = {"bf": "3", "g": "250", "threads": "1", "preset": "veryfast"}
        sound = container.add_stream("libopus", rate=48000)
        sound.layout = "stereo"
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        for offset in range(0, audio.shape[1], 960):  # 20 ms Opus frames
            block = np.ascontiguousarray(audio[:, offset : offset + 960])
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = 48000, offset
            container.mux(sound.encode(frame))
        container.mux(video.encode(None))
        container.mux(sound.encode(None))


def narrations(seconds: float) -> dict:
    """caption.json's record of a video: a narration every 1.5 s."""
    starts = np.arange(0.2, seconds - 1.0, 1.5).round(2).tolist()
    return {"start": starts, "end": [round(s + 1.2, 2) for s in starts],
            "text": [f"the square moves {word}" for word in
                     ("left", "right", "up", "down", "fast")][: len(starts)]}


def video_list(path: Path, mapping: dict) -> str:
    """A ``video_id,path`` CSV (how ids that are not file names reach their files)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video_id", "path"])
        writer.writerows(mapping.items())
    return str(path)
