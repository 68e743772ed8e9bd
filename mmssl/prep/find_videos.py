"""Finding downloaded videos: a directory tree to scan, or a CSV mapping id -> path."""

from __future__ import annotations

import csv
from pathlib import Path

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm")


def scan_videos(root: str | Path, extensions=VIDEO_EXTENSIONS) -> dict[str, str]:
    """Map file stem (the video id) -> path for every video file under ``root``.

    When one id exists with several extensions the first in ``extensions`` order wins, so
    the result does not depend on directory listing order.
    """
    found: dict[str, str] = {}
    rank = {ext: index for index, ext in enumerate(extensions)}
    for path in sorted(Path(root).rglob("*")):
        if path.suffix.lower() in rank and path.is_file():
            current = found.get(path.stem)
            if current is None or rank[path.suffix.lower()] < rank[Path(current).suffix.lower()]:
                found[path.stem] = str(path)
    return found


def read_video_list(csv_path: str | Path) -> dict[str, str]:
    """Map id -> path from a CSV with columns ``video_id,path`` (relative paths are taken
    relative to the CSV's folder)."""
    csv_path = Path(csv_path)
    mapping = {}
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"video_id", "path"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{csv_path}: missing columns {sorted(missing)} (need video_id,path)")
        for row in reader:
            path = Path(row["path"])
            mapping[row["video_id"]] = str(path if path.is_absolute() else csv_path.parent / path)
    return mapping


def locate_videos(videos: str | Path) -> dict[str, str]:
    """``videos`` is a directory to scan or a ``.csv`` list."""
    videos = Path(videos)
    if videos.suffix.lower() == ".csv":
        return read_video_list(videos)
    if not videos.is_dir():
        raise FileNotFoundError(f"{videos}: not a directory of videos nor a .csv list")
    return scan_videos(videos)
