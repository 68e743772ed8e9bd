"""``mmssl embed --videos``: a collection of raw videos embedded span by span, resumable.

**Sources.** A directory (every ``.mp4``/``.mkv``/``.webm`` under it, the id being the file
stem) or a CSV with columns ``video_id,path`` (paths relative to the CSV's folder) and,
optionally, ``start,end``: then each row is one span (a clip list; a video may have
several rows), else every video is cut into windows of ``EmbedConfig.window`` seconds
every ``stride`` seconds (:func:`mmssl.prep.videos.window_spans`; 0: the whole video).

**Parts.** Videos are sorted by id and taken ``part_videos`` at a time; part k is
embedded (:meth:`mmssl.api.Model.embed_spans`, windows of several videos batched
together) and written as ``part-<k, 6 digits>.safetensors`` under a ``.partial`` name,
then renamed. A rerun skips every complete part, so a killed run loses at most the part
it was writing; a part written with other settings (checkpoint, prep, windows, level,
sources) is an error rather than being mixed in. Videos or spans that cannot be read are
counted with their reason in the part, never fatal.

**Output.** ``OUT.safetensors``: the parts (kept in ``OUT.safetensors.parts/`` while
running) merged into one file at the end. Any other ``OUT``: a directory holding the parts
and ``index.json``, for collections too large for one file. Either holds arrays
``<modality>.<space>`` (N, D) float32 (``<modality>.features`` at level backbone) and
``has_audio`` (N,) bool, in the row order of the metadata ``keys``
(``<video_id>@<start>-<end>``), plus ``checkpoint``, ``videos`` ({id: path}),
``settings`` and ``failures``.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm import tqdm

from mmssl.api.model import Model, load
from mmssl.checkpoint import PIXEL_SETTINGS
from mmssl.config import EmbedConfig
from mmssl.media import MediaError
from mmssl.prep.convert import Failure
from mmssl.prep.find_videos import scan_videos
from mmssl.prep.videos import video_duration, window_spans

INDEX_NAME = "index.json"
PARTS_SUFFIX = ".parts"


@dataclass(frozen=True)
class VideoSource:
    """A video and the spans to embed (None: windows from the config)."""

    video_id: str
    path: str
    spans: tuple[tuple[float, float], ...] | None = None


def read_video_sources(videos: str | Path) -> list[VideoSource]:
    """The sources of a directory or CSV (module docstring), sorted by id."""
    videos = Path(videos)
    if videos.suffix.lower() != ".csv":
        if not videos.is_dir():
            raise FileNotFoundError(f"{videos}: not a directory of videos nor a .csv list")
        return [VideoSource(i, p) for i, p in sorted(scan_videos(videos).items())]
    with videos.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or ())
        if not {"video_id", "path"} <= columns or len({"start", "end"} & columns) == 1:
            raise ValueError(f"{videos}: needs columns video_id,path and optionally start,end;"
                             f" header: {reader.fieldnames}")
        rows: dict[str, tuple[str, list]] = {}
        for line, row in enumerate(reader, start=2):
            path = Path(row["path"] or "")
            path = str(path if path.is_absolute() else videos.parent / path)
            known, spans = rows.setdefault(row["video_id"], (path, []))
            if not row["video_id"] or known != path:
                raise ValueError(f"{videos}: line {line}: video {row['video_id']!r} needs one "
                                 f"path (got {known!r} before, {path!r} here)")
            if "start" in columns:
                spans.append(_span(videos, line, row))
    return [VideoSource(i, path, tuple(spans) if "start" in columns else None)
            for i, (path, spans) in sorted(rows.items())]


def _span(path: Path, line: int, row: dict) -> tuple[float, float]:
    try:
        start, end = float(row["start"]), float(row["end"])
    except (TypeError, ValueError):
        raise ValueError(f"{path}: line {line}: start/end must be numbers, got "
                         f"{row['start']!r}, {row['end']!r}") from None
    if not end > start >= 0:
        raise ValueError(f"{path}: line {line}: need 0 <= start < end, got {start}-{end}")
    return start, end


def embed_video_collection(checkpoint: str | Path, videos: str | Path, out: str | Path,
                           config: EmbedConfig, modalities=None, progress: bool = True) -> str:
    """``mmssl embed --videos``: load the checkpoint with ``config``'s options, embed every
    source of ``videos`` into ``out``; returns a one-line summary."""
    model = load(checkpoint, device=config.device, batch_size=config.batch_size,
                 windows=config.windows, fps=config.fps, short_side=config.short_side,
                 reencode=config.reencode)
    out = embed_videos(model, read_video_sources(videos), out, config, modalities, progress)
    info = index_info(out)
    return (f"{info['rows']} spans of {len(info['videos'])} videos -> {out} "
            f"(failed: {len(info['failures'])})")


def embed_videos(model: Model, sources: list[VideoSource], out: str | Path,
                 config: EmbedConfig, modalities=None, progress: bool = True) -> Path:
    """Embed ``sources`` into ``out`` (module docstring); returns ``out``."""
    if not sources:
        raise ValueError("no video to embed")
    if config.part_videos < 1:
        raise ValueError(f"part_videos must be >= 1, got {config.part_videos}")
    modalities = tuple(m for m in ("video", "audio")
                       if m in (modalities or model.modalities) and m in model.modalities)
    if not modalities:
        raise ValueError(f"raw videos give video and audio rows; {model.config.method} has "
                         f"towers {list(model.modalities)}, asked for {list(modalities or [])}")
    out = Path(out)
    single = out.suffix == ".safetensors"
    settings = _settings(model, config, modalities)
    if single and out.is_file():  # a finished run: the same one again is already done
        if _part_metadata(out).get("fingerprint") != _fingerprint(settings, sources):
            raise ValueError(f"{out} exists, written with other settings or videos; embed "
                             "into another --out, or remove it")
        return out
    parts_dir = out.with_name(out.name + PARTS_SUFFIX) if single else out
    parts_dir.mkdir(parents=True, exist_ok=True)
    plan = [sources[i : i + config.part_videos]
            for i in range(0, len(sources), config.part_videos)]
    paths = [parts_dir / f"part-{index:06d}.safetensors" for index in range(len(plan))]
    done = [_check_part(path, settings, part) for path, part in zip(paths, plan, strict=True)]
    bar = tqdm(total=len(sources), initial=sum(len(p) for p, d in zip(plan, done, strict=True)
                                               if d),
               desc="embed videos", unit="video", disable=not progress)
    for path, part, complete in zip(paths, plan, done, strict=True):
        if not complete:
            _write_part(path, model, part, settings, config, modalities,
                        lambda _video_id: bar.update(1))
    bar.close()
    if single:
        _merge(paths, out, settings, _fingerprint(settings, sources))
        shutil.rmtree(parts_dir)
    else:
        _write_index(out, paths, settings)
    return out


def _settings(model: Model, config: EmbedConfig, modalities) -> dict:
    """What decides the rows: a part written under other settings cannot be reused."""
    prep = model.require_prep()
    return {"checkpoint": str(Path(model.name).resolve()) if model.name else "",
            "prep": {name: getattr(prep, name) for name in PIXEL_SETTINGS},
            "windows": model.windows, "level": config.level, "window": config.window,
            "stride": config.stride, "reencode": model.reencode, "modalities": list(modalities)}


def _fingerprint(settings: dict, part: list[VideoSource]) -> str:
    return json.dumps({**settings, "videos": [asdict(source) for source in part]},
                      sort_keys=True)


def _check_part(path: Path, settings: dict, part: list[VideoSource]) -> bool:
    """Whether ``path`` is a complete part of these settings; an error when it is one of
    other settings."""
    if not path.is_file():
        return False
    written = _part_metadata(path).get("fingerprint")
    if written != _fingerprint(settings, part):
        raise ValueError(f"{path} was written with other settings or videos; embed into "
                         "another --out, or remove it to start again")
    return True


def _write_part(path: Path, model: Model, part: list[VideoSource], settings: dict,
                config: EmbedConfig, modalities, on_video) -> None:
    spans, failures = _spans_of(part, config)
    result = model.embed_spans(spans, modalities, config.level, on_video)
    for source in part:  # videos whose spans could not be planned were not visited
        if source.video_id not in {video_id for video_id, _, _ in spans}:
            on_video(source.video_id)
    first = next(iter(result.by_modality.values()))
    arrays = {f"{m}.{name}": value.float().contiguous()
              for m, embeddings in result.by_modality.items()
              for name, value in embeddings.vectors.items()}
    arrays["has_audio"] = first.has_audio.contiguous()
    metadata = {"keys": json.dumps(first.keys), "fingerprint": _fingerprint(settings, part),
                "failures": json.dumps([asdict(f) for f in failures + result.failures]),
                "videos": json.dumps({s.video_id: s.path for s in part})}
    partial = path.with_name(path.name + ".partial")
    save_file(arrays, str(partial), metadata=metadata)
    partial.replace(path)


def _spans_of(part: list[VideoSource], config: EmbedConfig):
    """``([(video_id, path, spans)], failures)``: the CSV's spans, or windows of each
    video's duration (read from its header; an unreadable header is a failure)."""
    spans, failures = [], []
    for source in part:
        if source.spans is not None:
            spans.append((source.video_id, source.path, list(source.spans)))
            continue
        try:
            duration = video_duration(source.path)
        except MediaError as error:
            failures.append(Failure(source.video_id, error.reason, error.detail))
            continue
        spans.append((source.video_id, source.path,
                      window_spans(duration, config.window, config.stride)))
    return spans, failures


def read_part(path: str | Path) -> tuple[list[str], dict[str, torch.Tensor], dict]:
    """``(keys, arrays, metadata)`` of one part or merged file."""
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
        arrays = {name: handle.get_tensor(name) for name in handle.keys()}
    return json.loads(metadata.get("keys", "[]")), arrays, metadata


def index_files(index: str | Path) -> list[Path]:
    """The files of an embedding index: one ``.safetensors`` file, or the parts listed
    in a directory's ``index.json``."""
    index = Path(index)
    if index.is_file():
        return [index]
    listing = index / INDEX_NAME
    if not listing.is_file():
        raise FileNotFoundError(f"{index}: not an index written by mmssl embed --videos (a "
                                f".safetensors file, or a directory with {INDEX_NAME})")
    return [index / name for name in json.loads(listing.read_text())["parts"]]


def index_info(index: str | Path) -> dict:
    """``{"checkpoint", "settings", "videos": {id: path}, "failures", "rows"}`` of an index."""
    files = index_files(index)
    if Path(index).is_dir():
        return json.loads((Path(index) / INDEX_NAME).read_text())
    metadata = _part_metadata(files[0])
    settings = json.loads(metadata.get("settings", "{}"))
    return {"checkpoint": settings.get("checkpoint", ""), "settings": settings,
            "videos": json.loads(metadata.get("videos", "{}")),
            "failures": json.loads(metadata.get("failures", "[]")),
            "rows": len(json.loads(metadata.get("keys", "[]")))}


def iter_index(index: str | Path) -> Iterator[tuple[list[str], dict[str, torch.Tensor]]]:
    """``(keys, arrays)`` of each file of an index in turn (one part in memory at a time)."""
    for path in index_files(index):
        keys, arrays, _ = read_part(path)
        if keys:
            yield keys, arrays


def _part_metadata(path: Path) -> dict:
    with safe_open(str(path), framework="pt") as handle:
        return handle.metadata() or {}


def _merge(paths: list[Path], out: Path, settings: dict, fingerprint: str) -> None:
    """The parts as one file (written under ``.partial``, then renamed)."""
    keys, arrays, videos, failures = [], {}, {}, []
    for path in paths:
        part_keys, part_arrays, metadata = read_part(path)
        keys += part_keys
        videos.update(json.loads(metadata["videos"]))
        failures += json.loads(metadata["failures"])
        for name, value in part_arrays.items():
            if part_keys:
                arrays.setdefault(name, []).append(value)
    if not keys:
        raise ValueError(f"no span of any video could be embedded (failures: {failures[:3]})")
    metadata = {"keys": json.dumps(keys), "videos": json.dumps(videos),
                "failures": json.dumps(failures), "settings": json.dumps(settings),
                "fingerprint": fingerprint}
    partial = out.with_name(out.name + ".partial")
    save_file({name: torch.cat(values) for name, values in arrays.items()}, str(partial),
              metadata=metadata)
    partial.replace(out)


def _write_index(out: Path, paths: list[Path], settings: dict) -> None:
    """``index.json``: the parts, from their metadata alone (no array is read)."""
    metadatas = [_part_metadata(path) for path in paths]
    listing = {"parts": [path.name for path in paths],
               "rows": sum(len(json.loads(m["keys"])) for m in metadatas),
               "checkpoint": settings["checkpoint"], "settings": settings,
               "videos": {k: v for m in metadatas for k, v in json.loads(m["videos"]).items()},
               "failures": [f for m in metadatas for f in json.loads(m["failures"])]}
    partial = out / (INDEX_NAME + ".partial")
    partial.write_text(json.dumps(listing, indent=1))
    partial.replace(out / INDEX_NAME)
