"""``mmssl search``: the best spans in blocks equal the best of the full score matrix;
faiss (when installed) agrees; the command prints each query's hits."""

import pytest
import torch

import mmssl
from mmssl.api.collection import read_part
from mmssl.cli import main
from mmssl.config import SearchConfig
from mmssl.search.ranking import best_in_blocks, best_with_faiss, search


def random_index(sizes=(5, 1, 7), dim=8):
    torch.manual_seed(0)
    files, start = [], 0
    for size in sizes:
        files.append(([f"v{start + i}@0.00-1.00" for i in range(size)], torch.randn(size, dim)))
        start += size
    return torch.randn(3, dim), files


@pytest.mark.parametrize("top, block_rows", [(4, 2), (1, 1), (20, 3), (4, 1000)])
def test_blocks_give_the_best_of_the_whole_score_matrix(top, block_rows):
    queries, files = random_index()
    keys = [key for file_keys, _ in files for key in file_keys]
    scores = queries @ torch.cat([items for _, items in files]).T
    values, rows = scores.topk(min(top, len(keys)), dim=1)
    found = best_in_blocks(queries, files, top, block_rows)
    for q in range(len(queries)):
        assert [key for _, key in found[q]] == [keys[int(r)] for r in rows[q]]
        torch.testing.assert_close(torch.tensor([s for s, _ in found[q]]), values[q])


def test_faiss_finds_the_same_spans():
    pytest.importorskip("faiss", reason="faiss is not installed (optional: pip install "
                                        "faiss-cpu); backend exact needs nothing")
    queries, files = random_index()
    exact = best_in_blocks(queries, files, 4, 2)
    approx = best_with_faiss(queries, files, 4)
    assert [[k for _, k in row] for row in approx] == [[k for _, k in row] for row in exact]


def test_without_faiss_the_faiss_backend_says_how_to_get_it():
    try:
        import faiss  # noqa: F401
    except ImportError:
        queries, files = random_index()
        with pytest.raises(RuntimeError, match="pip install faiss-cpu"):
            best_with_faiss(queries, files, 4)
    else:
        pytest.skip("faiss is installed: nothing to say")


@pytest.mark.slow
def test_the_command_prints_the_hits_the_api_scores(fresh_checkpoint, youcook_segments,
                                                    tmp_path, capsys):
    clips = tmp_path / "clips.csv"
    clips.write_text("video_id,path,start,end\n" + "".join(
        f"{s['video_id']},{s['path']},{s['start']},{s['end']}\n" for s in youcook_segments))
    index = tmp_path / "index.safetensors"
    assert main(["embed", "--checkpoint", str(fresh_checkpoint), "--videos", str(clips),
                 "--out", str(index), "--windows=2"]) == 0
    capsys.readouterr()
    query = youcook_segments[0]["sentence"]
    assert main(["search", str(index), query, "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{query!r}:" and len(lines) == 4
    keys, arrays, _ = read_part(index)
    model = mmssl.load(fresh_checkpoint)
    scores = (model.embed_text([query])["vt"] @ arrays["video.vt"].T)[0]
    best = scores.topk(3).indices
    for line, row in zip(lines[1:], best, strict=True):
        video_id, times = keys[int(row)].split("@")
        assert video_id in line and times.replace("-", " ").split()[0] in line
    both = search(index, [query], SearchConfig(top=2, target="video+audio"), model=model)
    assert len(both[0]) == 2 and both[0][0].rank == 1 and both[0][0].path.endswith(".mp4")


def test_bad_settings_are_named(tmp_path):
    with pytest.raises(ValueError, match="backend must be one of"):
        search(tmp_path, ["q"], SearchConfig(backend="annoy"))
    with pytest.raises(FileNotFoundError, match="not an index written by mmssl embed"):
        search(tmp_path, ["q"], SearchConfig())
