"""Gradient accumulation with cached features: m micro-batches give the gradient of the
loss over the whole accumulated batch (every sample a negative for every other), including
for a parameter the loss itself uses (CLIP's learnable temperature)."""

import torch
from accelerate import Accelerator
from torch import nn

from mmssl.losses import NCELoss
from mmssl.training.accumulate import accumulated_step

BATCH, MICRO = 12, 3


class LinearCLIP(nn.Module):
    """A real two-tower method without batch norm: linear towers, InfoNCE with a learnable
    logit scale, the features/loss split every method has."""

    def __init__(self):
        super().__init__()
        self.video, self.text = nn.Linear(6, 5), nn.Linear(7, 5)
        self.logit_scale = nn.Parameter(torch.tensor(2.0))
        self.objective = NCELoss()

    def forward(self, batch, features_only=False):
        return self.features(batch)

    def features(self, batch):
        return {"video": self.video(batch["video"]), "text": self.text(batch["text"]),
                "logit_scale": self.logit_scale}

    def loss(self, features):
        return {"loss": self.objective(features["video"], features["text"],
                                       logit_scale=features["logit_scale"])}


def gradients(model) -> dict:
    return {name: param.grad.clone() for name, param in model.named_parameters()}


def test_accumulated_gradient_equals_the_full_batch_gradient():
    g = torch.Generator().manual_seed(0)
    batch = {"video": torch.randn(BATCH, 6, generator=g),
             "text": torch.randn(BATCH, 7, generator=g)}
    torch.manual_seed(0)
    model = LinearCLIP()
    full = model.loss(model.features(batch))["loss"]
    full.backward()
    expected = gradients(model)

    model.zero_grad()
    size = BATCH // MICRO
    micro = [{k: v[i * size:(i + 1) * size] for k, v in batch.items()} for i in range(MICRO)]
    out = accumulated_step(Accelerator(), model, micro)
    torch.testing.assert_close(out["loss"].detach(), full.detach())
    for name, grad in gradients(model).items():
        torch.testing.assert_close(grad, expected[name], rtol=1e-5, atol=1e-7)
    # A micro-batch's loss alone would see only its own rows as negatives.
    alone = model.loss(model.features(micro[0]))["loss"]
    assert not torch.isclose(alone, full)
