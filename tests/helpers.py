"""Helpers shared by tests in several folders (imported as ``helpers``: ``tests/`` is on
pytest's ``pythonpath``). Fixtures live in ``conftest.py``; plain functions live here, so
that no test imports ``conftest`` and spawned processes can unpickle what they run."""

from pathlib import Path


def gloo_process(rank: int, world: int, store: str, out_dir: str, body) -> None:
    """One rank of :func:`conftest.run_gloo`: join a gloo group on CPU, run ``body(rank)``,
    save its dict to ``out_dir/rank<r>.pt``."""
    import datetime

    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=60))
    try:
        torch.save(body(rank), f"{out_dir}/rank{rank}.pt")
        # Leave together: a rank that tears gloo down while its peer is still connected
        # can make the peer abort ("terminate called without an active exception").
        dist.barrier()
    finally:
        dist.destroy_process_group()


def shard_bytes(directory) -> dict:
    """{file name: sha256} of every shard tar and stats file of a prepared directory.

    Shards are reproducible byte for byte (``mmssl/shard_format.py``), so runs that must give
    the same data are compared on their bytes."""
    import hashlib

    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(Path(directory).glob("shard-*"))}


def differing_members(first, second) -> list[str]:
    """Names of the tar members whose bytes differ between two prepared directories (what
    to look at when :func:`shard_bytes` differ)."""
    import tarfile

    def members(directory):
        out = {}
        for path in sorted(Path(directory).glob("shard-*.tar")):
            with tarfile.open(path) as tar:
                out.update({f"{path.name}/{m.name}": tar.extractfile(m).read() for m in tar})
        return out

    a, b = members(first), members(second)
    return sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))


# Annotation values real files hold, each refused at the door (mmssl/prep/annotations.py),
# with what its error says. A caption.json record (HowTo100M) ...
GOOD_CAPTION = {"start": [1.0, 4.0], "end": [3.5, 6.0], "text": ["cut the onion", "stir"]}
BAD_CAPTIONS = {
    "numberstart": ({**GOOD_CAPTION, "start": 1.0}, "start, end and text must be lists"),
    "stringstart": ({**GOOD_CAPTION, "start": "1.0 4.0"}, "start, end and text must be lists"),
    "nanstart": ({**GOOD_CAPTION, "start": [float("nan"), 4.0]},
                 "narration 0: start nan is not finite"),
    "infend": ({**GOOD_CAPTION, "end": [3.5, float("inf")]}, "narration 1: end inf is not finite"),
    "negative": ({**GOOD_CAPTION, "start": [-2.0, 4.0]}, "narration 0: start -2.0 is negative"),
    "reversed": ({**GOOD_CAPTION, "start": [1.0, 7.0]}, "narration 1: start 7 is after end 6"),
    "absurd": ({**GOOD_CAPTION, "end": [3.5, 1e9]},
               "narration 1: end 1e+09 s is past any video's end"),
    "strtime": ({**GOOD_CAPTION, "start": ["1.0", 4.0]}, "narration 0: start must be a number"),
    "booltime": ({**GOOD_CAPTION, "end": [True, 6.0]}, "narration 0: end must be a number"),
    "numbertext": ({**GOOD_CAPTION, "text": ["cut", 7]}, "narration 1: text must be a string"),
    "lengths": ({**GOOD_CAPTION, "text": ["cut"]}, "lengths differ: 2/2/1"),
    "notrecord": ([1, 2], "expected keys start, end, text"),
}
# ... and a step's segment (YouCook2, COIN).
BAD_SEGMENTS = {
    "infinity": ([0, float("inf")], "end inf is not finite"),
    "billion": ([0, 1e9], "end 1e+09 s is past any video's end"),
    "reversed": ([9, 3], "start 9 is after end 3"),
    "negative": ([-1, 3], "start -1.0 is negative"),
    "text": ("0,10", "segment must be [start, end]"),
    "three": ([1, 2, 3], "segment must be [start, end]"),
    "strings": (["1", "2"], "start must be a number"),
    "nan": ([float("nan"), 2], "start nan is not finite"),
}


def camera_like_video(path, container: str = "mp4", seconds: float = 24.0, fps: int = 25,
                      gop: int = 250, bframes: int = 3, faststart: bool = True) -> Path:
    """A real encode as downloads are made: H.264 with a long GOP (``gop`` frames between
    keyframes) and B-frames, AAC at 44.1 kHz stereo (resampled by prep), in ``container``
    (``"mp4"``, header first when ``faststart`` as streaming sites serve it, or
    ``"matroska"``). Frames are moving noisy gradients, so every frame differs, and the
    brightness steps each second, so a frame's level says when it was shown."""
    from fractions import Fraction

    import av
    import numpy as np

    rng = np.random.default_rng(0)
    options = {"movflags": "faststart"} if container == "mp4" and faststart else {}
    with av.open(str(path), "w", format=container, options=options) as output:
        video = output.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        video.options = {"bf": str(bframes), "threads": "1",
                         "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
        audio = output.add_stream("aac", rate=44100)
        audio.layout = "stereo"
        written = 0
        for index in range(int(seconds * fps)):
            image = np.full((64, 96, 3), 20 + 8 * (index // fps), np.uint8)
            image[:, index % 96] = 240
            image += rng.integers(0, 12, image.shape, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            output.mux(video.encode(frame))
            while written < (index + 1) / fps * 44100:
                time = (written + np.arange(1024)) / 44100
                tone = (0.3 * np.sin(2 * np.pi * 440 * time)).astype(np.float32)
                block = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp",
                                                   layout="stereo")
                block.sample_rate, block.pts = 44100, written
                block.time_base = Fraction(1, 44100)
                output.mux(audio.encode(block))
                written += 1024
        output.mux(video.encode(None))
        output.mux(audio.encode(None))
    return Path(path)
