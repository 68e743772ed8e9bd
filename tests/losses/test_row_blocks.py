"""Every loss's ``chunk_size`` form against its whole-matrix form: the same value and the
same gradients (float64), for chunks smaller than, equal to and larger than the batch; and
the memory claim: no tensor the size of the score matrix is kept for backward."""

import math

import pytest
import torch
from helpers import assert_same, largest_saved_tensor, value_and_grads

from mmssl.losses import (
    ALBEFContrastiveLoss,
    HadsellContrastiveLoss,
    MaskedMarginSoftmaxLoss,
    MaxMarginRankingLoss,
    MoCoLoss,
    NTXentLoss,
    SigLIPLoss,
    SupConLoss,
)
from mmssl.losses.row_blocks import row_block_sum

F64 = torch.float64
B, D, K = 11, 5, 7
CHUNKS = [1, 3, 11, 64]


def tensors(seed, *shapes, scale=0.8):
    g = torch.Generator().manual_seed(seed)
    return [scale * torch.randn(*shape, generator=g, dtype=F64) for shape in shapes]


def unit(x):
    return torch.nn.functional.normalize(x, dim=-1)


# name: (loss factory taking chunk_size, input factory, call)
CASES = {
    "ntxent": (lambda c: NTXentLoss(0.2, chunk_size=c),
               lambda: tensors(0, (B, D), (B, D)), lambda f, x: f(*x)),
    "moco": (lambda c: MoCoLoss(0.2, chunk_size=c),
             lambda: [unit(t) for t in tensors(1, (B, D), (B, D), (K, D))],
             lambda f, x: f(*x)),
    "supcon": (lambda c: SupConLoss(0.3, chunk_size=c),
               lambda: [*tensors(2, (B, 2, D)), torch.tensor([0, 1, 0, 2, 3, 1, 4, 4, 5, 0, 6])],
               lambda f, x: f(*x)),
    "siglip": (lambda c: SigLIPLoss(math.log(5.0), -2.0, chunk_size=c).double(),
               lambda: tensors(3, (B, D), (B, D)), lambda f, x: f(*x)),
    "albef": (lambda c: ALBEFContrastiveLoss(0.2, 0.4, chunk_size=c),
              lambda: [unit(t) for t in tensors(4, (B, D), (B, D), (B, D), (B, D), (K, D),
                                                (K, D))],
              lambda f, x: f(*x)),
    "hadsell": (lambda c: HadsellContrastiveLoss(1.2, chunk_size=c),
                lambda: tensors(5, (B, D), (B, D), scale=0.4),
                lambda f, x: f.forward_batch(*x)),
    "margin_ranking": (lambda c: MaxMarginRankingLoss(0.3, chunk_size=c),
                       lambda: [unit(t) for t in tensors(6, (B, D), (B, D))],
                       lambda f, x: f(*x)),
    "mms": (lambda c: MaskedMarginSoftmaxLoss(0.1, chunk_size=c),
            lambda: tensors(7, (B, D), (B, D)), lambda f, x: f(*x)),
}


def run(name, chunk):
    make_loss, make_inputs, call = CASES[name]
    loss_fn = make_loss(chunk)
    return value_and_grads(lambda *x: call(loss_fn, x), *make_inputs())


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize("name", list(CASES))
def test_chunked_form_equals_whole_matrix(name, chunk):
    whole, chunked = run(name, 0), run(name, chunk)
    assert whole[0].item() > 0 and any(g.abs().sum() > 0 for g in whole[1])
    assert_same(whole, chunked)


def test_learnt_parameters_get_the_same_gradients():
    """SigLIP's scale and bias, ALBEF's τ: the shared 0-dim tensors of every block."""
    x, y = tensors(8, (B, D), (B, D))
    grads = {}
    for chunk in (0, 4):
        loss_fn = SigLIPLoss(math.log(5.0), -2.0, chunk_size=chunk).double()
        loss_fn(x, y).backward()
        grads[chunk] = [loss_fn.log_scale.grad, loss_fn.bias.grad]
    assert_same((torch.zeros(()), grads[0]), (torch.zeros(()), grads[4]))
    inputs = [unit(t) for t in tensors(9, (B, D), (B, D), (B, D), (B, D), (K, D), (K, D))]
    for chunk in (0, 4):
        tau = torch.tensor(0.15, dtype=F64, requires_grad=True)
        ALBEFContrastiveLoss(chunk_size=chunk)(*inputs, temperature=tau).backward()
        grads[chunk] = tau.grad
    torch.testing.assert_close(grads[4], grads[0], rtol=1e-10, atol=0)


@pytest.mark.parametrize("name", ["ntxent", "siglip", "margin_ranking", "mms"])
def test_chunked_form_keeps_no_score_matrix_for_backward(name):
    """The largest tensor saved for backward is a block (or an input), never B×B."""
    big = 64
    make_loss, _, call = CASES[name]
    x, y = (t.requires_grad_(True) for t in tensors(10, (big, D), (big, D)))
    saved = largest_saved_tensor(lambda a, b: call(make_loss(8), (a, b)), x, y)
    whole = largest_saved_tensor(lambda a, b: call(make_loss(0), (a, b)), x, y)
    assert whole >= big * big > saved


def test_row_block_sum_is_the_plain_sum_and_rejects_a_negative_chunk():
    x = torch.arange(10.0, dtype=F64).requires_grad_(True)

    def squares(rows):
        return (rows ** 2).sum()

    for chunk in (0, 1, 3, 10, 20):
        total = row_block_sum(squares, (x,), (), chunk)
        assert total.item() == sum(v * v for v in range(10))
        (grad,) = torch.autograd.grad(total, x)
        torch.testing.assert_close(grad, 2 * x.detach())
    with pytest.raises(ValueError, match="chunk_size must be >= 0"):
        row_block_sum(squares, (x,), (), -1)


def test_mms_negative_mask_is_not_available_chunked():
    x, y = tensors(11, (4, D), (4, D))
    with pytest.raises(ValueError, match="negative_mask is not available with chunk_size"):
        MaskedMarginSoftmaxLoss(chunk_size=2)(x, y, negative_mask=torch.ones(4, 4, dtype=bool))
