"""Finding downloaded clips that are already cut to a segment.

AudioSet downloaders name a clip ``<YTID>_<start>_<end>.<ext>`` (start/end in seconds,
``30``, ``30.0`` or ``30.000``) or just ``<YTID>.<ext>``; a YouTube id may itself hold
``_``, so the two numbers are split off from the right. Audio-only files count too.
"""

from __future__ import annotations

from pathlib import Path

# Earlier wins when one clip exists with several extensions: video first, then lossless.
CLIP_EXTENSIONS = (".mp4", ".mkv", ".webm", ".flac", ".wav", ".m4a", ".ogg", ".opus", ".mp3")


def parse_clip_stem(stem: str) -> tuple[str, float | None]:
    """``(ytid, start_seconds)`` from ``<YTID>_<start>_<end>``, or ``(stem, None)`` for a
    bare ``<YTID>`` (or any stem not ending in two numbers)."""
    parts = stem.rsplit("_", 2)
    if len(parts) == 3 and parts[0]:
        try:
            start, end = float(parts[1]), float(parts[2])
        except ValueError:
            return stem, None
        if end > start:
            return parts[0], start
    return stem, None


def clip_key(ytid: str, start: float | None) -> tuple[str, int | None]:
    """Lookup key: id and start in whole milliseconds (so ``30`` matches ``30.000``)."""
    return ytid, None if start is None else int(round(start * 1000))


def scan_clips(root: str | Path, extensions=CLIP_EXTENSIONS) -> dict[tuple, str]:
    """``{clip_key: path}`` for every clip file under ``root``."""
    rank = {ext: index for index, ext in enumerate(extensions)}
    found: dict[tuple, str] = {}
    for path in sorted(Path(root).rglob("*")):
        suffix = path.suffix.lower()
        if suffix not in rank or not path.is_file():
            continue
        key = clip_key(*parse_clip_stem(path.stem))
        current = found.get(key)
        if current is None or rank[suffix] < rank[Path(current).suffix.lower()]:
            found[key] = str(path)
    return found


def find_clip(clips: dict[tuple, str], ytid: str, start: float) -> str | None:
    """The clip for segment (``ytid``, ``start``): the cut name first, then ``<YTID>.<ext>``."""
    return clips.get(clip_key(ytid, start)) or clips.get(clip_key(ytid, None))
