"""A local HuggingFace CLIP through ``mmssl convert clip``: the checkpoint carries CLIP's
pixel statistics, resolution, text length and temperature, embeds as CLIP4Clip's meanP,
and ``mmssl eval youcook2`` scores it zero-shot."""

import json
import math
import shutil

import pytest
import torch
import torch.nn.functional as F

from mmssl.checkpoint import load_checkpoint
from mmssl.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def processor_statistics(directory) -> tuple[list[float], list[float]]:
    processor = json.loads((directory / "preprocessor_config.json").read_text())
    return processor["image_mean"], processor["image_std"]


@pytest.fixture(scope="module")
def converted(tiny_clip_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("clip_ckpt") / "ckpt"
    assert main(["convert", "clip", "--hf-dir", str(tiny_clip_dir), "--out", str(out)]) == 0
    return out


def test_config_carries_clips_own_settings(converted, tiny_clip_dir):
    from transformers import CLIPModel

    method, config, tokenizer = load_checkpoint(converted)
    clip = CLIPModel.from_pretrained(str(tiny_clip_dir), local_files_only=True)
    mean, std = processor_statistics(tiny_clip_dir)
    assert mean != [0.48145466, 0.4578275, 0.40821073]  # not OpenAI's: read from the file
    assert config.model.video_mean == pytest.approx(mean)
    assert config.model.video_std == pytest.approx(std)
    assert config.data.crop_size == (32, 32) and config.data.max_words == 16
    assert (config.method, config.model.head, config.model.vat_dim) == ("clip", "identity", 24)
    scale = float(clip.logit_scale.detach())
    assert float(method.scoring.logit_scale.detach()) == pytest.approx(scale)
    assert config.loss.temperature == pytest.approx(math.exp(-scale))


def test_embeddings_are_meanp_of_clip_normalised_with_its_statistics(converted,
                                                                    tiny_clip_dir):
    from transformers import CLIPModel

    method, config, tokenizer = load_checkpoint(converted)
    clip = CLIPModel.from_pretrained(str(tiny_clip_dir), local_files_only=True).eval()
    video = torch.randint(0, 256, (2, 3, 4, 32, 32), dtype=torch.uint8)
    mean, std = (torch.tensor(values).view(1, 3, 1, 1)
                 for values in processor_statistics(tiny_clip_dir))
    with torch.no_grad():
        frames = (video.transpose(1, 2).reshape(8, 3, 32, 32).float() / 255 - mean) / std
        image = F.normalize(clip.visual_projection(
            clip.vision_model(pixel_values=frames).pooler_output), dim=-1)
        expected = F.normalize(image.view(2, 4, -1).mean(1), dim=-1)  # meanP, then cosine
        torch.testing.assert_close(method.embed("video", video)["vt"], expected,
                                   rtol=1e-5, atol=1e-6)


def test_eval_youcook2_zero_shot(converted, tiny_shards):
    assert main(["eval", "youcook2", "--checkpoint", str(converted), "--windows=2",
                 "--shards", str(tiny_shards["youcook2"])]) == 0
    results = json.loads((converted / "eval_youcook2.json").read_text())
    assert results["protocol"]["name"] == "mmssl" and results["protocol"]["clips"] > 0
    assert 0.0 <= results["metrics"]["text->video"]["R@1"] <= 1.0


def test_the_checkpoint_outlives_the_clip_directory(tiny_clip_dir, tmp_path):
    source = shutil.copytree(tiny_clip_dir, tmp_path / "clip")
    out = tmp_path / "ckpt"
    assert main(["convert", "clip", "--hf-dir", str(source), "--out", str(out)]) == 0
    method, config, tokenizer = load_checkpoint(out)
    video = torch.randint(0, 256, (2, 3, 4, 32, 32), dtype=torch.uint8)
    ids = tokenizer(["whisk the eggs", "a red pan"], config.data.max_words)
    with torch.no_grad():
        expected = method.embed("video", video)["vt"], method.embed("text", ids)["vt"]
    shutil.move(source, tmp_path / "moved")  # the source directory is gone

    method, config, tokenizer = load_checkpoint(out)
    assert (config.model.hf_video_dir, config.model.hf_text_dir) == (
        str(out / "hf_video.json"), str(out / "hf_text.json"))
    with torch.no_grad():
        torch.testing.assert_close(method.embed("video", video)["vt"], expected[0])
        torch.testing.assert_close(method.embed("text", ids)["vt"], expected[1])
