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
                      gop: int = 250, bframes: int = 3, faststart: bool = True,
                      hiss: float = 0.0, audio_bitrate: int = 128000) -> Path:
    """A real encode as downloads are made: H.264 with a long GOP (``gop`` frames between
    keyframes) and B-frames, AAC at 44.1 kHz stereo (resampled by prep), in ``container``
    (``"mp4"``, header first when ``faststart`` as streaming sites serve it, or
    ``"matroska"``). Frames are moving noisy gradients, so every frame differs, and the
    brightness steps each second, so a frame's level says when it was shown. The sound is
    a 440-Hz tone, with white noise of amplitude ``hiss`` over it: noisy sound, as real
    recordings have, makes the AAC encoder code some bands as noise substitution (in a few
    frames at ``audio_bitrate`` 128 kb/s, in most at 96)."""
    from fractions import Fraction

    import av
    import numpy as np

    rng, noise = np.random.default_rng(0), np.random.default_rng(1)
    options = {"movflags": "faststart"} if container == "mp4" and faststart else {}
    with av.open(str(path), "w", format=container, options=options) as output:
        video = output.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        video.options = {"bf": str(bframes), "threads": "1",
                         "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
        audio = output.add_stream("aac", rate=44100)
        audio.layout, audio.bit_rate = "stereo", audio_bitrate
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
                sound = np.repeat(0.3 * np.sin(2 * np.pi * 440 * time)[None], 2, axis=0)
                if hiss:
                    sound += hiss * noise.uniform(-1, 1, sound.shape)
                block = av.AudioFrame.from_ndarray(sound.astype(np.float32), format="fltp",
                                                   layout="stereo")
                block.sample_rate, block.pts = 44100, written
                block.time_base = Fraction(1, 44100)
                output.mux(audio.encode(block))
                written += 1024
        output.mux(video.encode(None))
        output.mux(audio.encode(None))
    return Path(path)


# Loss checks: value and gradients of one form against another.

def value_and_grads(loss_fn, *inputs, **kwargs):
    """Loss value and the gradients of every floating input that requires grad."""
    leaves = [t.detach().clone().requires_grad_(t.is_floating_point()) for t in inputs]
    loss = loss_fn(*leaves, **kwargs)
    loss.backward()
    return loss.detach(), [t.grad for t in leaves if t.is_floating_point()]


def assert_same(plain, chunked, rtol=1e-10, atol=1e-12):
    """Two ``value_and_grads`` results agree (value, then each gradient)."""
    import torch

    torch.testing.assert_close(chunked[0], plain[0], rtol=rtol, atol=atol)
    assert len(plain[1]) == len(chunked[1])
    for want, got in zip(plain[1], chunked[1], strict=True):
        torch.testing.assert_close(got, want, rtol=rtol, atol=atol)


def largest_saved_tensor(loss_fn, *inputs):
    """Numel of the largest tensor the autograd graph keeps for backward."""
    import torch

    sizes = []

    def pack(t):
        sizes.append(t.numel())
        return t

    leaves = [t.clone().requires_grad_(True) for t in inputs]
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss_fn(*leaves).backward()
    return max(sizes)


# Methods on a fixed batch: tiny towers, a seeded initialisation, one seeded batch.

B, K, WORDS, VOCAB, FRAMES = 5, 3, 4, 20, 4
TAU = 0.07
HAS_AUDIO = [True, True, False, True, True]
TEXT_MASK = [[1, 1, 1], [1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1]]
LABELS = [2, 0, 2, 1, 0]  # a class seen once (1) has no positive but its other view
TWO_VIEW_METHODS = ("simclr", "byol", "moco", "barlow_twins", "swav", "supcon")


def tiny_config(config):
    """``config`` with tiny towers for the modalities its method has (sizes do not enter
    the composition of terms; a size the method does not use may not be set), and what
    each method needs of the data (two views, labelled clips), with small queues."""
    from mmssl.methods import METHODS

    model, modalities = config.model, METHODS.get(config.method).modalities
    model.video_width, model.vat_dim = 4, 5
    if "audio" in modalities:
        model.audio_width = 4
    if config.method == "mmv":
        model.va_dim = 6  # only MMV's fac and disjoint spaces have an S_va
    if "text" in modalities:
        model.word_dim, model.text_width = 8, 8
    if config.method in TWO_VIEW_METHODS:
        config.data.views = 2
    if config.method == "supcon":
        config.data.label_key = "task_id"
    return config


def make_method(method: str, dtype=None, **loss):
    """``method`` built from a tiny config with ``loss.<key>=value`` overrides, seeded,
    in ``dtype`` (float64 by default) and eval mode."""
    import torch

    from mmssl.config import TrainConfig
    from mmssl.methods import build_method

    config = tiny_config(TrainConfig(method=method))
    for key, value in loss.items():
        setattr(config.loss, key, value)
    torch.manual_seed(0)
    return build_method(config, VOCAB).to(dtype or torch.float64).eval()


def fixed_batch(dtype=None, seed: int = 1, size: int = B) -> dict:
    """A seeded batch of the contract: video (+ second view), audio, text, masks, labels."""
    import torch

    g = torch.Generator().manual_seed(seed)
    rows = [i % B for i in range(size)]
    return {"video": torch.randint(0, 256, (size, 3, FRAMES, 16, 16), generator=g,
                                   dtype=torch.uint8),
            "video_view2": torch.randint(0, 256, (size, 3, FRAMES, 16, 16), generator=g,
                                         dtype=torch.uint8),
            "audio": torch.randn(size, 2400, generator=g,  # 16 log-mel frames
                                 dtype=dtype or torch.float64),
            "audio_mask": torch.tensor([HAS_AUDIO[r] for r in rows]),
            "text": torch.randint(1, VOCAB, (size, K, WORDS), generator=g),
            "text_mask": torch.tensor([TEXT_MASK[r] for r in rows], dtype=torch.bool),
            "label": torch.tensor([LABELS[r] for r in rows])}
