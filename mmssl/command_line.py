"""Every command's one override form: its own arguments, and one config dataclass.

A command (``mmssl demo``, ``synth``, ``prep <dataset>``, ``train``, ``eval``, ``embed``)
has ordinary arguments for its inputs and outputs (``--checkpoint``, ``--out``,
``--videos`` ...) and one config dataclass of :mod:`mmssl.config` for its settings, set
in this order: the dataclass defaults, then ``--config FILE.yaml``, then overrides, each
``--<dotted.key>=value`` or ``--<dotted.key> value`` with the key relative to the
command's own config::

    mmssl prep youcook2 --annotations A.json --videos V --out S --gop=16 --short-side 64
    mmssl demo --train.optim.lr=1e-3 --synth.howto_videos 40

``-`` and ``_`` are alike in keys (``--short-side`` is ``--short_side``); a bool key alone
(``--tensorboard``) means true. An option that is neither an argument of the command nor
a config key is an error naming the known keys. ``--help`` lists every key with its
default and its one-line meaning, from the field's :func:`~mmssl.config.setting`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterator, Sequence

from mmssl.config import ConfigError, load_config, resolve_key

HELP_COLUMN = 34  # where the meanings start in --help's list of keys
BOOL_WORDS = frozenset({"true", "false", "yes", "no", "on", "off"})  # YAML's, any case


def parse_command(parser: argparse.ArgumentParser, cls, argv: Sequence[str] | None = None):
    """``(arguments, config)`` of a command line: ``parser`` (made for this call; ``--config``
    and the list of keys are added to it) reads the command's own arguments, every ``--key``
    of dataclass ``cls`` becomes an override. A bad key or value ends the program with a
    one-line usage error."""
    parser.add_argument("--config", metavar="FILE.yaml",
                        help=f"YAML file of {cls.__name__} keys, applied before the keys below")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = settings_help(cls)
    try:
        rest, overrides = split_overrides(cls, list(sys.argv[1:] if argv is None else argv))
        args, unknown = parser.parse_known_args(rest)
        if unknown:
            raise _unknown(cls, unknown)
        return args, load_config(cls, args.config, overrides)
    except (ConfigError, OSError) as error:
        parser.error(str(error))


def split_overrides(cls, argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(the command's own arguments, overrides as "--a.b=value")``: every ``--key=value``
    or ``--key value`` whose key is one of dataclass ``cls`` is an override."""
    rest, overrides, index = [], [], 0
    while index < len(argv):
        token, index = argv[index], index + 1
        key, equals, value = token.removeprefix("--").partition("=")
        found = resolve_key(cls, key) if token.startswith("--") and key else None
        if found is None:
            rest.append(token)
            continue
        keys, hint = found
        if not equals:
            following = argv[index] if index < len(argv) else "--"
            if hint is bool and following.lower() not in BOOL_WORDS:
                value = "true"  # a bool key alone; what follows is not its value
            elif not following.startswith("--"):
                value, index = following, index + 1
            else:
                raise ConfigError(f"{token} needs a value (--{key}=VALUE or --{key} VALUE)")
        overrides.append(f"--{'.'.join(keys)}={value}")
    return rest, overrides


def settings_help(cls) -> str:
    """The keys of dataclass ``cls``, each with its default and its meaning (``--help``)."""
    lines = [f"{cls.__name__} keys (--key=value or --key value, after --config; "
             "- and _ alike in keys):"]
    section = None
    for key, default, meaning in config_keys(cls()):
        if key.rpartition(".")[0] != section and section is not None:
            lines.append("")
        section = key.rpartition(".")[0]
        option = f"  --{key}={_shown(default)}"
        if len(option) >= HELP_COLUMN:
            lines.extend([option, " " * HELP_COLUMN + meaning])
        else:
            lines.append(option.ljust(HELP_COLUMN) + meaning)
    return "\n".join(lines)


def config_keys(config, prefix: str = "") -> Iterator[tuple[str, object, str]]:
    """``(dotted key, value, meaning)`` of every setting of the dataclass instance
    ``config``, sections flattened (``train.optim.lr``)."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            yield from config_keys(value, f"{prefix}{field.name}.")
        else:
            yield f"{prefix}{field.name}", value, field.metadata.get("help", "")


def _shown(value) -> str:
    """A default as it would be typed after ``=``."""
    if isinstance(value, str):
        return value or '""'
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def _unknown(cls, tokens: list[str]) -> ConfigError:
    """The error for options neither the command nor its config knows: the deepest
    section the key reaches, and that section's keys."""
    option = next((token for token in tokens if token.startswith("-")), None)
    if option is None:
        return ConfigError(f"unrecognized arguments: {' '.join(tokens)}")
    key = option.lstrip("-").partition("=")[0]
    parts, section, reached = key.split("."), cls, []
    for part in parts[:-1]:
        found = resolve_key(section, part)
        if found is None or not dataclasses.is_dataclass(found[1]):
            break
        section = found[1]
        reached.append(found[0][0])
    known = ", ".join(sorted(field.name for field in dataclasses.fields(section)))
    where = f"keys of {'.'.join(reached)}" if reached else f"{cls.__name__} keys"
    return ConfigError(f"unknown option {option.partition('=')[0]}: neither an argument of "
                       f"this command nor a {cls.__name__} key; {where}: {known}")
