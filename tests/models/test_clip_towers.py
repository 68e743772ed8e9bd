"""CLIP's towers from a local directory: the video tower is CLIP4Clip's meanP (the mean of
L2-normalised projected frame embeddings), the text tower CLIP's text embedding, both
equal to what the transformers CLIPModel computes."""

import pytest
import torch
import torch.nn.functional as F

from mmssl.data.tokenizer import SubwordTokenizer
from mmssl.models import TEXT_ENCODERS, VIDEO_ENCODERS

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def clip(tiny_clip_dir):
    from transformers import CLIPModel

    return CLIPModel.from_pretrained(str(tiny_clip_dir), local_files_only=True).eval()


def test_video_tower_is_meanp_over_clip_image_embeddings(tiny_clip_dir, clip):
    tower = VIDEO_ENCODERS.build("clip_video", path=str(tiny_clip_dir)).eval()
    video = torch.randn(2, 3, 5, 32, 32)
    with torch.no_grad():
        frames = video.transpose(1, 2).reshape(10, 3, 32, 32)
        pooled = clip.vision_model(pixel_values=frames).pooler_output
        embeds = F.normalize(clip.visual_projection(pooled), dim=-1).view(2, 5, -1)
        torch.testing.assert_close(tower(video), embeds.mean(1), rtol=1e-5, atol=1e-6)
    assert tower.out_dim == 24


def test_text_tower_is_clips_text_embedding(tiny_clip_dir, clip):
    tower = TEXT_ENCODERS.build("clip_text", path=str(tiny_clip_dir)).eval()
    tokenizer = SubwordTokenizer.from_directory(tiny_clip_dir)
    sentences = ["cut the onion", "whisk the eggs with sugar"]
    ids = tokenizer(sentences, 12)
    with torch.no_grad():
        for row, sentence in enumerate(sentences):
            model_ids = torch.tensor([tokenizer.tokenizer.encode(sentence).ids])
            pooled = clip.text_model(input_ids=model_ids).pooler_output
            torch.testing.assert_close(tower(ids[row:row + 1]), clip.text_projection(pooled),
                                       rtol=1e-5, atol=1e-6)
        assert torch.equal(tower(torch.zeros(1, 12, dtype=torch.long)), torch.zeros(1, 24))
