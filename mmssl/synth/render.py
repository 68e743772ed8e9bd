"""Pixels and samples for a timeline of :class:`~mmssl.synth.world.Event`.

Video: a textured background per video; during an event its object crosses 60% of the
frame in the event's direction. Audio: a low noise floor plus, during an event, its sound
at a register set by the object's size (big = an octave lower), with pitch rising or
falling for up/down motion (factor 2^(p - 1/2) over progress p) and loudness rising or
falling for right/left motion (0.25 + 0.75 p).
"""

from __future__ import annotations

import numpy as np

from mmssl.synth.world import COLORS, Event

SIZE_FRACTION = {"small": 0.24, "big": 0.38}  # of the frame height
BASE_PITCH = {"small": 330.0, "big": 165.0}


def shape_mask(shape: str, size: int) -> np.ndarray:
    """Boolean (size, size) mask of ``shape`` inscribed in the square."""
    coords = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    y, x = np.meshgrid(coords, coords, indexing="ij")
    radius = x**2 + y**2
    masks = {
        "square": (np.abs(x) <= 0.85) & (np.abs(y) <= 0.85),
        "ring": (radius <= 1.0) & (radius >= 0.3),
        "bar": np.abs(y) <= 0.38,
        "triangle": (np.abs(x) <= (y + 1.0) / 2.0) & (y <= 0.9),
        "cross": (np.abs(x) <= 0.33) | (np.abs(y) <= 0.33),
    }
    return masks[shape]


def render_frames(events: list[Event], duration: float, fps: float, width: int, height: int,
                  rng: np.random.Generator) -> np.ndarray:
    """(T, H, W, 3) uint8 frames, T = floor(duration * fps)."""
    background = _background(rng, width, height)
    tracks = [_track(rng, event, width, height) for event in events]
    frames = np.repeat(background[None], int(duration * fps), axis=0)
    for index in range(len(frames)):
        time = index / fps
        for event, (mask, path) in zip(events, tracks, strict=True):
            if event.start <= time < event.end:
                progress = (time - event.start) / (event.end - event.start)
                _paste(frames[index], mask, COLORS[event.color], path(progress))
    return frames


def render_audio(events: list[Event], duration: float, rate: int,
                 rng: np.random.Generator) -> np.ndarray:
    """(1, N) float32 mono waveform, N = round(duration * rate)."""
    audio = rng.normal(0.0, 0.01, int(round(duration * rate))).astype(np.float32)
    for event in events:
        lo, hi = int(event.start * rate), min(len(audio), int(event.end * rate))
        audio[lo:hi] += event_sound(event, hi - lo, rate, rng)
    return audio[None]


def event_sound(event: Event, count: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """The sound of one event, ``count`` samples."""
    time = np.arange(count) / rate
    progress = time / max(time[-1], 1e-6) if count else time
    pitch = {"up": 2.0 ** (progress - 0.5), "down": 2.0 ** (0.5 - progress)}.get(
        event.motion, np.ones_like(progress))
    loudness = {"right": 0.25 + 0.75 * progress, "left": 1.0 - 0.75 * progress}.get(
        event.motion, np.full_like(progress, 0.7))
    phase = 2 * np.pi * np.cumsum(BASE_PITCH[event.size] * pitch) / rate
    wave = _TIMBRES[event.sound](phase, time, rng)
    return (0.3 * loudness * wave).astype(np.float32)


def _whistle(phase, time, rng):
    return np.sin(4.0 * phase + 0.3 * np.sin(2 * np.pi * 6.0 * time))


def _buzz(phase, time, rng):
    return 0.6 * np.sign(np.sin(phase))


def _chime(phase, time, rng):
    ring = sum(np.sin(k * phase) for k in (2.0, 5.4, 8.9)) / 2.0
    return ring * np.exp(-(time % 0.3) / 0.08)


def _knock(phase, time, rng):
    envelope = np.exp(-(time % 0.25) / 0.03)
    return envelope * (np.sin(phase) + 0.5 * rng.normal(0.0, 1.0, len(time)))


def _hiss(phase, time, rng):
    # Low-passed noise moved up to a carrier that follows pitch: a band of noise centred on
    # 8 x the base pitch (white noise times a sine would stay white, hiding pitch and size).
    noise = np.convolve(rng.normal(0.0, 1.0, len(time)), np.ones(24) / np.sqrt(24), "same")
    return 0.6 * noise * np.sin(8.0 * phase)


_TIMBRES = {"whistle": _whistle, "buzz": _buzz, "chime": _chime, "knock": _knock, "hiss": _hiss}


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    base = rng.uniform(20, 90, size=3)
    texture = rng.normal(0, 8, size=(height // 8 + 1, width // 8 + 1, 1))
    texture = np.kron(texture, np.ones((8, 8, 1)))[:height, :width]
    return np.clip(base + texture, 0, 255).astype(np.uint8)


def _track(rng, event: Event, width: int, height: int):
    """The object's mask and a function progress -> top-left corner (x, y)."""
    size = max(4, int(SIZE_FRACTION[event.size] * height))
    mask = shape_mask(event.shape, size)
    room_x, room_y = width - size, height - size
    across = float(rng.uniform(0.25, 0.75))
    start, stop = {"right": (0.2, 0.8), "left": (0.8, 0.2), "down": (0.2, 0.8), "up": (0.8, 0.2)}[
        event.motion]
    horizontal = event.motion in ("left", "right")

    def path(progress: float) -> tuple[int, int]:
        along = start + (stop - start) * progress
        x, y = (along, across) if horizontal else (across, along)
        return int(round(x * room_x)), int(round(y * room_y))

    return mask, path


def _paste(frame: np.ndarray, mask: np.ndarray, color, corner: tuple[int, int]) -> None:
    x, y = corner
    size = mask.shape[0]
    frame[y : y + size, x : x + size][mask] = color
