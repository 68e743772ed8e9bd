"""Moving a released state dict into an mmssl method, key by key, with every key accounted
for: a released weight that no rule takes, a weight of the method that nothing fills, or a
shape that differs is an error naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from mmssl.models.weights import read_weights_file

# BatchNorm's batch counter: absent from weights saved before PyTorch 0.4.1, and never
# used by a model in eval mode or with a momentum set (every BatchNorm here).
OPTIONAL_SUFFIX = "num_batches_tracked"


def read_released(path: str | Path, what: str) -> dict[str, Tensor]:
    """The state dict of the released file ``path`` (``what`` names it in errors)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} not found")
    return read_weights_file(path)


class StateMapping:
    """Released keys renamed to the method's: :meth:`move` whole prefixes, then
    :meth:`load_into` the method.

    Args:
        released: the released state dict.
        source: the file it came from (named in errors).
    """

    def __init__(self, released: dict[str, Tensor], source: str | Path):
        self.left = dict(released)
        self.mapped: dict[str, Tensor] = {}
        self.source = str(source)

    def move(self, released_prefix: str, prefix: str, required: bool = True) -> None:
        """Every key ``released_prefix + rest`` becomes ``prefix + rest``; none found is an
        error when ``required``."""
        keys = [key for key in self.left if key.startswith(released_prefix)]
        if required and not keys:
            raise ValueError(f"{self.source}: no '{released_prefix}*' weights (is it the "
                             f"released file this converter reads?)")
        for key in keys:
            self.mapped[prefix + key[len(released_prefix):]] = self.left.pop(key)

    def load_into(self, method: nn.Module) -> None:
        """Load the mapped weights into ``method``; every released key must have been
        moved, and every weight of the method filled with the same shape (a missing
        BatchNorm batch counter keeps the method's own)."""
        if self.left:
            raise ValueError(f"{self.source}: {len(self.left)} released weights have no place "
                             f"in the converted model, e.g. {sorted(self.left)[:4]}")
        wanted = method.state_dict()
        missing = [key for key in wanted if key not in self.mapped
                   and not key.endswith(OPTIONAL_SUFFIX)]
        extra = sorted(set(self.mapped) - set(wanted))
        if missing or extra:
            raise ValueError(f"{self.source}: does not fit {type(method).__name__}: missing "
                             f"{missing[:4]} ({len(missing)}), unexpected {extra[:4]} "
                             f"({len(extra)})")
        for key, value in self.mapped.items():
            if value.shape != wanted[key].shape:
                raise ValueError(f"{self.source}: {key} has shape {tuple(value.shape)}, the "
                                 f"converted model needs {tuple(wanted[key].shape)}")
        state = {key: self.mapped.get(key, wanted[key]) for key in wanted}
        method.load_state_dict({key: value.to(wanted[key].dtype) if value.is_floating_point()
                                else value for key, value in state.items()})


def shape_of(state: dict[str, Tensor], key: str, source: str | Path) -> torch.Size:
    """The shape of ``state[key]``, or an error naming the file and the key."""
    if key not in state:
        raise ValueError(f"{source}: no '{key}' (is it the released file this converter "
                         f"reads?)")
    return state[key].shape
