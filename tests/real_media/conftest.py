"""Real media, made once per session: H.264 encodes as cameras and YouTube deliver them
(B-frames, long GOPs, AAC stereo at 44.1 kHz) in 16:9, 4:3 and vertical 9:16, an MKV with
H.264 and Opus, copies cut short or overwritten in the middle, and the annotation files
that point at them. Built with PyAV (``mmssl.media.encode`` and ``av`` directly)."""

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from mmssl.config import PrepConfig
from mmssl.media.encode import VideoEncoding, write_mp4
from mmssl.prep import howto100m, youcook2

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


@pytest.fixture(scope="session")
def real_world(tmp_path_factory) -> dict:
    """{"videos": dir, "sources": [Source], "broken": {id: path}, "captions": caption.json of
    the good sources, "youcook": YouCook2-format annotations of them (validation)}."""
    root = tmp_path_factory.mktemp("real_media")
    videos = root / "videos"
    videos.mkdir()
    for seed, source in enumerate(SOURCES):
        writer = write_h264_opus_mkv if source.name.endswith(".mkv") else write_h264_mp4
        writer(videos / source.name, source, seed)
    broken = root / "broken"
    broken.mkdir()
    wide, mkv = (videos / SOURCES[0].name).read_bytes(), (videos / SOURCES[3].name).read_bytes()
    (broken / BROKEN["truncatedmp"]).write_bytes(wide[: len(wide) * 6 // 10])
    (broken / BROKEN["truncatedmk"]).write_bytes(mkv[: len(mkv) * 6 // 10])
    classic = bytearray((videos / SOURCES[1].name).read_bytes())
    middle = len(classic) // 2
    classic[middle : middle + 2048] = np.random.default_rng(9).bytes(2048)
    (broken / BROKEN["corruptedmp"]).write_bytes(bytes(classic))

    captions = root / "caption.json"
    captions.write_text(__import__("json").dumps(
        {source.video_id: narrations(SECONDS) for source in SOURCES}))
    youcook = root / "youcook.json"
    youcook.write_text(__import__("json").dumps({"database": {
        source.video_id: {"subset": "validation", "recipe_type": "101", "duration": SECONDS,
                          "annotations": [{"segment": [0.5, 3.0], "id": 0,
                                           "sentence": "the square moves right"},
                                          {"segment": [3.0, 5.5], "id": 1,
                                           "sentence": "the tone sounds"}]}
        for source in SOURCES}}))
    return {"root": root, "videos": videos, "sources": SOURCES, "captions": captions,
            "youcook": youcook, "broken": {key: broken / name for key, name in BROKEN.items()}}


@pytest.fixture(scope="session")
def real_shards(real_world, tmp_path_factory) -> dict:
    """The good sources prepared at the default 48-px short side: {"howto100m": dir,
    "youcook2": dir}."""
    out = tmp_path_factory.mktemp("real_shards")
    howto100m.prepare(real_world["captions"], real_world["videos"], out / "howto100m", PREP,
                      progress=False)
    youcook2.prepare(real_world["youcook"], real_world["videos"], out / "youcook2", PREP,
                     ("validation",), progress=False)
    return {"howto100m": out / "howto100m", "youcook2": out / "youcook2"}
