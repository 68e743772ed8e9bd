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
            "audio": torch.randn(size, 1, 40, 16, generator=g, dtype=dtype or torch.float64),
            "audio_mask": torch.tensor([HAS_AUDIO[r] for r in rows]),
            "text": torch.randint(1, VOCAB, (size, K, WORDS), generator=g),
            "text_mask": torch.tensor([TEXT_MASK[r] for r in rows], dtype=torch.bool),
            "label": torch.tensor([LABELS[r] for r in rows])}
