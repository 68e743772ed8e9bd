"""Imports point down only: every ``import mmssl.X`` in the package goes to a lower layer
(or, where the architecture allows it, to the same layer). The layer picture is the one of
docs/architecture.md; a new subpackage must be given its layer here."""

import ast
from pathlib import Path

import mmssl

# Higher numbers are higher layers; a module may import its own layer only where
# SIDEWAYS allows it.
LAYERS = {
    "errors": -1,
    "config": 0, "registry": 0, "distributed": 0, "shard_format": 0,
    "media": 1, "command_line": 1,
    "prep": 2, "synth": 2,
    "data": 3,
    "models": 4, "losses": 4,
    "methods": 5,
    "checkpoint": 6,
    "eval": 7, "training": 7, "convert": 7,
    "train": 8, "api": 8,
    "demo": 9, "search": 9,
    "cli": 10, "__init__": 10, "__main__": 10,
}
# Periodic evaluation during training runs the evaluation code (imported lazily).
SIDEWAYS = {("training", "eval")}

PACKAGE = Path(mmssl.__file__).parent


def unit_of(module: str) -> str | None:
    """``mmssl.data.shards`` → ``data``; None for modules outside mmssl."""
    parts = module.split(".")
    if parts[0] != "mmssl":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def imported_units(path: Path) -> set[str]:
    units = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module and
                 not node.level else
                 [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
        units.update(u for u in map(unit_of, names) if u)
    return units


def test_every_unit_has_a_layer():
    units = {path.relative_to(PACKAGE).parts[0].removesuffix(".py")
             for path in PACKAGE.rglob("*.py")}
    assert units <= set(LAYERS), f"give these a layer: {sorted(units - set(LAYERS))}"


def test_imports_point_down():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for target in imported_units(path) - {source}:
            down = LAYERS[target] < LAYERS[source]
            if not (down or (source, target) in SIDEWAYS):
                upward.append(f"{path.relative_to(PACKAGE.parent)} imports mmssl.{target}")
    assert not upward, "imports that point up:\n" + "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from mmssl.training.loop import train\nimport mmssl.eval.metrics\n")
    assert imported_units(bad) == {"training", "eval"}
