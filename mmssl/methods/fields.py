"""Config fields a method does not use are errors when set: a value that silently does
nothing (``model.space: fac`` for a method that forces one shared space,
``loss.normalize: false`` for BYOL) would make a run mean something other than its config
says. A field left at its default is fine, so one config section serves every method."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from mmssl.config import ConfigError, TrainConfig

# Besides every model.* and loss.* field, the data fields that only some methods consume.
# The loader reads the rest for every method alike (``num_candidates`` shapes every batch;
# K = 1 is how a method that reads only the anchor narration saves the others' work).
# The label fields choose labelled clips, which carry no narrations: SupCon's alone.
METHOD_DATA_FIELDS = ("data.views", "data.label_key", "data.label_subset", "data.label_modality")


def reject_unused(config: TrainConfig, method: str, used: Iterable[str]) -> None:
    """Raise a ConfigError (a ValueError) naming ``method`` and the field if any
    ``model.*``, ``loss.*`` or :data:`METHOD_DATA_FIELDS` field outside ``used`` (dotted
    names such as ``"loss.margin"``) differs from its default."""
    used = set(used)
    set_fields = [name for name, value, default in _fields_with_defaults(config)
                  if name not in used and value != default]
    if set_fields:
        values = ", ".join(f"{name}={_value(config, name)!r}" for name in set_fields)
        raise ConfigError(f"{method} does not use {values}: leave {_plural(set_fields)} at "
                         f"the default")


def _fields_with_defaults(config: TrainConfig):
    """(dotted name, value, default) of every field :func:`reject_unused` checks."""
    defaults = TrainConfig()
    for section in ("model", "loss"):
        for field in dataclasses.fields(getattr(config, section)):
            name = f"{section}.{field.name}"
            yield name, _value(config, name), _value(defaults, name)
    for name in METHOD_DATA_FIELDS:
        yield name, _value(config, name), _value(defaults, name)


def _value(config: TrainConfig, name: str):
    section, field = name.split(".")
    return getattr(getattr(config, section), field)


def _plural(names: list[str]) -> str:
    return "it" if len(names) == 1 else "them"
