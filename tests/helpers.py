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
