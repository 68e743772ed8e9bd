"""Every paper's real-data config resolves, builds its published backbones at their real
size and plans its data: ``mmssl train --config X --dry-run``, pointed at the tiny test
shards (the configs name /data/... paths that do not exist here)."""

from pathlib import Path

import pytest

from mmssl.train import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
# config → (method, video encoder, audio encoder, text encoder, video tower's parameters)
PAPERS = {
    "howto100m_milnce.yaml": ("milnce", "s3dg", None, "milnce_text", 9.146e6),
    "howto100m_mmv_fac.yaml": ("mmv", "tsm_resnet50", "audio_resnet50", "word_maxpool",
                               23.5e6),
    "howto100m_mmv_fac_s3dg.yaml": ("mmv", "s3dg_conv7", "audio_resnet50", "word_maxpool",
                                    9.125e6),
    "howto100m_avlnet.yaml": ("avlnet", "s3dg_conv7", "resdavenet", "milnce_text", 9.125e6),
    "clip4clip_meanp.yaml": ("clip", "clip_video", None, "clip_text", None),
}


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("name", sorted(PAPERS))
def test_paper_config_dry_runs(name, tiny_shards, tiny_clip_dir, tmp_path):
    overrides = [f"--data.shards={tiny_shards['howto100m']}", "--data.num_workers=1",
                 f"--output_dir={tmp_path / 'run'}"]
    if name.startswith("clip"):  # a local CLIP directory instead of /data/...
        overrides += [f"--model.hf_video_dir={tiny_clip_dir}",
                      f"--model.hf_text_dir={tiny_clip_dir}", "--model.vat_dim=24",
                      "--data.crop_size=[32, 32]", "--data.max_words=16"]
    report = main(["--config", str(CONFIGS / name), "--dry-run", *overrides])
    method, video, audio, text, video_parameters = PAPERS[name]
    model = report["config"]["model"]
    assert (report["config"]["method"], model["video_encoder"], model["text_encoder"]) == (
        method, video, text)
    if audio:
        assert model["audio_encoder"] == audio
    if video_parameters:
        assert report["parameters"]["towers.video"] == pytest.approx(video_parameters,
                                                                     rel=0.001)
    assert report["data"]["per_batch"] == report["config"]["data"]["batch_size"]


def test_no_config_says_the_paper_backbones_are_missing():
    for path in CONFIGS.glob("*.yaml"):
        assert "not registered yet" not in path.read_text(), path.name
