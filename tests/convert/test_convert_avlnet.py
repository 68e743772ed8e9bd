"""AVLnet-Text-Tri's released layout through ``mmssl convert avlnet``.

The layout is AVLnet's ``Net(embd_dim, video_dim, tri_modal=True)``; its widths are
arguments of AVLnet's code (embd_dim 6144 and 4096-d video features in the release), so
the test writes the same names at embd_dim 64 and the video features of a tiny encoder,
keeping ResDavenet at its released size, and checks every weight's place, the towers
against AVLnet's formulas, and ``mmssl eval youcook2`` on the converted checkpoint."""

import json
import re

import pytest
import torch
from released_layouts import assert_in_place, avlnet_tri_layout, linear, random_state

from mmssl.checkpoint import load_checkpoint
from mmssl.cli import main
from mmssl.convert import convert_avlnet
from mmssl.data.shards import read_metas

pytestmark = pytest.mark.usefixtures("one_thread")
EMBD, VIDEO_DIM, WE_DIM = 64, 128, 300  # tiny3d's features at the default video_width


@pytest.fixture(scope="module")
def released(tmp_path_factory, tiny_shards):
    """(weights.pth, vectors.txt, state, {word: vector}); "Onion" and "onion" are two
    words, as in word2vec."""
    directory = tmp_path_factory.mktemp("avlnet_release")
    state = random_state(avlnet_tri_layout(EMBD, VIDEO_DIM, WE_DIM), seed=2)
    torch.save(state, directory / "AVLnet_Text_Tri_release.pth")
    sentences = [meta["texts"][0]["text"] for meta in read_metas(tiny_shards["youcook2"])]
    words = sorted({w for s in sentences for w in re.findall(r"[\w']+", s)} | {"Onion"})
    g = torch.Generator().manual_seed(3)
    vectors = {word: torch.randn(WE_DIM, generator=g) for word in words}
    lines = [f"{len(words)} {WE_DIM}"] + [
        " ".join([word, *(f"{x:.6f}" for x in vectors[word].tolist())]) for word in words]
    (directory / "vectors.txt").write_text("\n".join(lines) + "\n")
    vectors = {word: torch.tensor([float(f"{x:.6f}") for x in v.tolist()])
               for word, v in vectors.items()}
    return directory / "AVLnet_Text_Tri_release.pth", directory / "vectors.txt", state, vectors


@pytest.fixture(scope="module")
def converted(released, tmp_path_factory):
    weights, vectors, _, _ = released
    out = tmp_path_factory.mktemp("avlnet_ckpt") / "ckpt"
    assert main(["convert", "avlnet", "--weights", str(weights), "--video-encoder", "tiny3d",
                 "--word-vectors", str(vectors), "--out", str(out)]) == 0
    return out


def test_every_released_weight_lands_in_its_place(released, converted):
    _, _, state, vectors = released
    method, config, tokenizer = load_checkpoint(converted)
    mine = method.state_dict()
    assert_in_place(state, mine, {
        "DAVEnet_projection.": "spaces.heads.audio.1.", "DAVEnet.": "towers.audio.",
        "GU_audio.": "spaces.heads.audio.0.", "GU_video.": "spaces.heads.video.",
        "text_pooling_caption.fc.": "towers.text.fc1.", "GU_text_captions.": "spaces.heads.text."})
    embedding = mine["towers.text.word_embd.weight"]
    assert torch.equal(embedding[0], torch.zeros(WE_DIM))  # AVLnet pads with zero vectors
    vocabulary = tokenizer.vocabulary()
    for word, vector in vectors.items():
        torch.testing.assert_close(embedding[vocabulary[word]], vector)
    assert (config.method, config.model.audio_encoder, config.model.text_encoder) == (
        "avlnet", "resdavenet", "milnce_text")
    assert not config.loss.normalize and config.data.max_words == 20


def gated(state, name, x):
    y = x @ state[f"{name}.fc.weight"].T + state[f"{name}.fc.bias"]
    return y * torch.sigmoid(y @ state[f"{name}.cg.fc.weight"].T + state[f"{name}.cg.fc.bias"])


def test_text_and_audio_embeddings_follow_avlnets_forward(released, converted):
    _, _, state, vectors = released
    method, config, tokenizer = load_checkpoint(converted)
    sentences = ["Onion onion and unknown-words", "zzz"]
    rows = []
    for sentence in sentences:  # AVLnet's loader: known words' vectors, zero-padded to 20
        known = [vectors[w] for w in re.findall(r"[\w']+", sentence) if w in vectors][:20]
        rows.append(torch.stack(known + [torch.zeros(WE_DIM)] * (20 - len(known))))
    pooled = torch.relu(torch.stack(rows) @ state["text_pooling_caption.fc.weight"].T
                        + state["text_pooling_caption.fc.bias"]).amax(1)
    ids = tokenizer(sentences, config.data.max_words)
    with torch.no_grad():
        torch.testing.assert_close(method.embed("text", ids)["vt"],
                                   gated(state, "GU_text_captions", pooled),
                                   rtol=1e-4, atol=1e-5)
        waveform = torch.randn(2, 16000)  # one second; the method computes its log-mel
        features = method.towers["audio"](method.towers.inputs("audio", waveform))
        audio = gated(state, "GU_audio", features) @ state["DAVEnet_projection.weight"].T
        torch.testing.assert_close(method.embed("audio", waveform)["at"],
                                   audio + state["DAVEnet_projection.bias"], rtol=1e-4,
                                   atol=1e-5)


def test_other_releases_and_missing_inputs_are_refused(released, tmp_path):
    weights, vectors, state, _ = released
    fused = {**{k: v for k, v in state.items() if not k.startswith("GU_text")},
             **random_state({**linear("GU_audio_text.fc_audio", 8, 8)})}
    torch.save(fused, tmp_path / "fused.pth")
    with pytest.raises(ValueError, match="AVLnet-Text-Fused fuses audio and text"):
        convert_avlnet(tmp_path / "fused.pth", "tiny3d", tmp_path / "a", vectors)
    audio_video = {k: v for k, v in state.items()
                   if not k.startswith(("GU_text", "text_pooling"))}
    torch.save(audio_video, tmp_path / "av.pth")
    with pytest.raises(ValueError, match="no text branch"):
        convert_avlnet(tmp_path / "av.pth", "tiny3d", tmp_path / "b", vectors)
    with pytest.raises(ValueError, match="pass --word-vectors"):
        convert_avlnet(weights, "tiny3d", tmp_path / "c")
    with pytest.raises(ValueError, match="GU_video takes 128-d video features"):
        convert_avlnet(weights, "s3d_tiny", tmp_path / "d", vectors)


def test_eval_youcook2_scores_text_against_video_plus_audio(converted, tiny_shards):
    assert main(["eval", "youcook2", "--checkpoint", str(converted), "--windows=2",
                 "--shards", str(tiny_shards["youcook2"])]) == 0
    results = json.loads((converted / "eval_youcook2.json").read_text())
    assert {"text->video", "text->audio", "text->video+audio"} <= set(results["metrics"])
