"""Registry: duplicates raise, unknown names list the known ones, build forwards kwargs."""

import pytest

from mmssl.registry import Registry, RegistryError


def make_registry():
    reg = Registry("widget")

    @reg.register("zeta")
    def zeta(size=1, name="default"):
        return ("zeta", size, name)

    @reg.register("alpha")
    class Alpha:
        def __init__(self, depth=2):
            self.depth = depth

    return reg, Alpha


def test_register_returns_the_object_unchanged():
    reg, alpha_cls = make_registry()
    assert reg.get("alpha") is alpha_cls
    assert alpha_cls.__name__ == "Alpha"


def test_duplicate_name_raises_and_keeps_the_first():
    reg, alpha_cls = make_registry()
    with pytest.raises(RegistryError, match="'alpha' is already registered") as info:
        reg.register("alpha")(lambda: None)
    assert isinstance(info.value, KeyError)
    assert reg.get("alpha") is alpha_cls


def test_unknown_name_lists_known_names():
    reg, _ = make_registry()
    with pytest.raises(KeyError) as info:
        reg.build("beta")
    message = str(info.value)
    assert "widget" in message and "'beta'" in message
    assert "alpha, zeta" in message


def test_unknown_name_in_an_empty_registry():
    with pytest.raises(RegistryError, match=r"known: \(none\)"):
        Registry("gadget").build("anything")


def test_build_passes_kwargs():
    reg, alpha_cls = make_registry()
    built = reg.build("alpha", depth=7)
    assert isinstance(built, alpha_cls) and built.depth == 7
    assert reg.build("alpha").depth == 2
    # the registry's own ``name`` argument is positional-only
    assert reg.build("zeta", size=3, name="mine") == ("zeta", 3, "mine")


def test_list_sorted_and_contains():
    reg, _ = make_registry()
    assert reg.list() == ["alpha", "zeta"]
    assert "alpha" in reg and "zeta" in reg and "beta" not in reg
    assert len(reg) == 2


def test_empty_name_rejected():
    with pytest.raises(ValueError, match="non-empty"):
        Registry("widget").register("")
