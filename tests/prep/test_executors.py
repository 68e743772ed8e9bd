"""Executors and node splitting give the same shards as one local process pool: Ray (a real
local runtime) and two nodes run one after the other; a node alone writes only its shards
and no manifest."""


import pytest
from helpers import differing_members, shard_bytes

from mmssl.config import PrepConfig
from mmssl.prep import executors, youcook2
from mmssl.prep.arguments import add_prep_arguments, parse_prep, prep_parser
from mmssl.prep.executors import RunOptions
from mmssl.shard_format import MANIFEST_NAME, read_manifest

pytestmark = pytest.mark.multiprocess


def shard_list(manifest: dict) -> list[dict]:
    return [{"name": s["name"], "samples": s["samples"]} for s in manifest["shards"]]


def convert(tiny_world, out, *options) -> dict:
    """The YouCook2 validation command line with the settings of conftest's TINY_PREP."""
    root = tiny_world / "youcook2"
    return youcook2.main(["--annotations", str(root / "youcookii_annotations_trainval.json"),
                          "--videos", str(root / "videos"), "--out", str(out),
                          "--subset", "validation", "--samples-per-shard", "2",
                          "--workers", "2", *options])


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


def test_ray_matches_the_process_pool(local_ray, tiny_world, tiny_shards, tmp_path):
    manifest = convert(tiny_world, tmp_path, "--executor", "ray")
    expected = read_manifest(tiny_shards["youcook2"])
    assert shard_list(manifest) == shard_list(expected)
    assert shard_bytes(tmp_path) == shard_bytes(tiny_shards["youcook2"]), \
        differing_members(tmp_path, tiny_shards["youcook2"])
    assert local_ray.is_initialized()  # a runtime the caller started is left running


def test_two_nodes_match_one(tiny_world, tiny_shards, tmp_path, capsys):
    expected = shard_bytes(tiny_shards["youcook2"])
    assert len(expected) >= 6  # three shards or more, each a tar and a stats file
    first = convert(tiny_world, tmp_path, "--num-nodes", "2", "--node-rank", "0")
    node0 = sorted(name for name in expected if name.endswith(".tar"))[0::2]
    assert sorted(name for name in shard_bytes(tmp_path) if name.endswith(".tar")) == node0
    assert not (tmp_path / MANIFEST_NAME).exists() and first["complete"] is False
    assert "manifest.json will be written by the run that completes" in capsys.readouterr().err
    with pytest.raises(RuntimeError, match="shards are not complete"):
        convert(tiny_world, tmp_path, "--manifest-only")

    convert(tiny_world, tmp_path, "--num-nodes", "2", "--node-rank", "1")
    assert shard_bytes(tmp_path) == expected
    written = read_manifest(tmp_path)
    assert shard_list(written) == shard_list(read_manifest(tiny_shards["youcook2"]))
    assert "complete" not in written
    (tmp_path / MANIFEST_NAME).unlink()
    assert shard_list(convert(tiny_world, tmp_path, "--manifest-only")) == shard_list(written)


def test_node_options_are_checked():
    assert [i for i in range(7) if RunOptions(num_nodes=3, node_rank=1).owns(i)] == [1, 4]
    with pytest.raises(ValueError, match="node rank 2 of 2"):
        RunOptions(num_nodes=2, node_rank=2)
    with pytest.raises(ValueError, match="executor 'spark'"):
        RunOptions(executor="spark")


def test_cli_options_parse_into_run_options_and_prep_config(capsys):
    def parse(*argv):
        parser = prep_parser("youcook2", "")
        add_prep_arguments(parser)
        return parse_prep(parser, ["--videos", "v", "--out", "o", *argv])

    args, config, run = parse("--executor", "ray", "--num-nodes", "4", "--node-rank", "3",
                              "--gop=4")
    assert run == RunOptions(executor="ray", num_nodes=4, node_rank=3)
    assert config == PrepConfig(gop=4) and args.out == "o"
    with pytest.raises(SystemExit):
        parse("--num-nodes", "2", "--node-rank", "2")
    assert "node rank 2 of 2" in capsys.readouterr().err


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ImportError, match=r"pip install 'mmssl\[ray\]'"):
        list(executors.run_calls(print, [("x",)], RunOptions(executor="ray"), workers=1))
