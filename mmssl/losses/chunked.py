"""Memory-bounded (chunked) NCE and MIL-NCE: same value and gradients as the plain forms,
without ever holding the B×N score matrix.

Both losses reduce to one primitive, :func:`row_col_logsumexp`: for l = s·x yᵀ it returns
the per-row and per-column logsumexp of l. Its forward walks over blocks of ``chunk``
rows of x; its backward (a custom ``torch.autograd.Function``) *recomputes* each block
instead of saving it. Everything else (normalisation, positives, means, masks) is O(B·K)
and left to ordinary autograd.

Memory: O(B·chunk + B·D) — a few chunk×N blocks alive at a time, plus the inputs and
their gradients; the autograd graph saves only x, y, s and the two lse vectors.
Trade-off: the score blocks are computed twice (forward, then again in backward), so a
step costs 4 (chunk×D)·(D×N) matmuls per block where the plain form does 3 big ones; the
elementwise work (4 exps per score) is the same but runs on blocks that stay near the
cache instead of on several B×B temporaries, so on CPU the net is a speed-up
(benchmarks/chunked_loss.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.losses.checks import connected_zero, kept_pair_rows

DEFAULT_CHUNK = 4096


def _lse(block: Tensor, dim: int, work: Tensor) -> Tensor:
    """logsumexp of a finite block along ``dim``, using ``work`` (same shape) as scratch."""
    top = block.amax(dim, keepdim=True)
    return torch.sub(block, top, out=work).exp_().sum(dim).log_().add_(top.squeeze(dim))


def _blocks(x: Tensor, y: Tensor, scale: Tensor, chunk: int):
    """Yield (rows, l, scratch): l = scale·x[rows] yᵀ, written into two reused buffers so
    the loop allocates no chunk×N tensor after the first block."""
    size = min(chunk, x.shape[0])
    block, scratch = x.new_empty(size, y.shape[0]), x.new_empty(size, y.shape[0])
    for start in range(0, x.shape[0], chunk):
        rows = slice(start, start + chunk)
        n = x[rows].shape[0]
        yield rows, torch.mm(x[rows], y.t(), out=block[:n]).mul_(scale), scratch[:n]


class _RowColLSE(torch.autograd.Function):
    """(row, col) = (logsumexp_j l_ij, logsumexp_i l_ij) of l = s·x yᵀ, blockwise.

    Backward: with upstream gradients g_r (B,), g_c (N,),
    P_ij = g_r_i·e^{l_ij − row_i} + g_c_j·e^{l_ij − col_j} = ∂L/∂l_ij and
    ∂L/∂x = s·P y, ∂L/∂y = s·Pᵀx, ∂L/∂s = Σ_ij P_ij x_i·y_j, one recomputed block at a time.
    """

    @staticmethod
    def forward(ctx, x: Tensor, y: Tensor, scale: Tensor, chunk: int):
        row = x.new_empty(x.shape[0])
        col = x.new_full((y.shape[0],), float("-inf"))
        for rows, block, scratch in _blocks(x, y, scale, chunk):
            row[rows] = _lse(block, 1, scratch)
            col = torch.logaddexp(col, _lse(block, 0, scratch))
        ctx.save_for_backward(x, y, scale, row, col)
        ctx.chunk = chunk
        return row, col

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_row: Tensor, g_col: Tensor):
        x, y, scale, row, col = ctx.saved_tensors
        grad_x, grad_y, grad_s = torch.empty_like(x), torch.zeros_like(y), x.new_zeros(())
        for rows, block, p in _blocks(x, y, scale, ctx.chunk):
            torch.sub(block, row[rows, None], out=p).exp_().mul_(g_row[rows, None])
            p.addcmul_(block.sub_(col).exp_(), g_col)  # P; block is consumed here
            p_y = torch.mm(p, y)
            grad_x[rows] = p_y * scale
            grad_y.addmm_(p.t(), x[rows])
            grad_s += (x[rows] * p_y).sum()
        return grad_x, grad_y.mul_(scale), grad_s.to(scale.dtype), None


def row_col_logsumexp(x: Tensor, y: Tensor, scale: Tensor, chunk: int) -> tuple[Tensor, Tensor]:
    """Row and column logsumexp of l = scale·x yᵀ in O(chunk·N) memory.

    Args:
        x: (B, D); y: (N, D); scale: 0-dim tensor (may require grad); chunk: rows per block.
            float16/bfloat16 inputs are computed in float32 (as cross_entropy does).

    Returns:
        row (B,) with row_i = log Σ_j e^{l_ij}; col (N,) with col_j = log Σ_i e^{l_ij}.
    """
    if chunk < 1:
        raise ValueError(f"chunked loss: chunk_size must be >= 1, got {chunk}")
    if x.dtype in (torch.float16, torch.bfloat16):
        x, y = x.float(), y.float()
    return _RowColLSE.apply(x, y, scale.to(x.dtype), int(chunk))


class ChunkedNCELoss(nn.Module):
    """Symmetric InfoNCE equal to :class:`~mmssl.losses.nce.NCELoss`, computed in blocks.

    With (optionally L2-normalised) x, y and scale s (1/τ, or exp(logit_scale), unclamped),
    l_ij = s·x_i·y_j::

        L = ½·mean_i[lse_j l_ij − l_ii] + ½·mean_j[lse_i l_ij − l_jj]
          = ½·mean(row) + ½·mean(col) − mean_i l_ii

    which is NCELoss's ½ row CE + ½ column CE. The B×B logits are never materialised
    (see the module docstring: memory O(B·chunk + B·D), blocks recomputed in backward).

    Args:
        temperature: τ, used when ``forward`` gets no ``logit_scale``.
        normalize: L2-normalise x and y along the feature dimension first.
        chunk_size: rows of x per block; two chunk_size×B buffers live at a time.

    Shapes:
        x: (B, D); y: (B, D); mask: (B,) bool, optional (False rows are dropped entirely);
        logit_scale: scalar tensor, optional. Returns a scalar.
    """

    def __init__(self, temperature: float = 0.07, normalize: bool = True,
                 chunk_size: int = DEFAULT_CHUNK) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"ChunkedNCELoss: temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.normalize = normalize
        self.chunk_size = int(chunk_size)

    def forward(self, x: Tensor, y: Tensor, mask: Tensor | None = None,
                logit_scale: Tensor | None = None) -> Tensor:
        """Compute the loss; arguments and empty-batch behaviour as in NCELoss.forward."""
        x, y, zero = kept_pair_rows("ChunkedNCELoss", x, y, mask)
        if x.shape[0] < 1:
            return zero
        if self.normalize:
            x, y = F.normalize(x, dim=-1), F.normalize(y, dim=-1)
        if logit_scale is None:
            scale = x.new_tensor(1.0 / self.temperature)
        else:
            scale = logit_scale.exp()
        row, col = row_col_logsumexp(x, y, scale, self.chunk_size)
        positives = scale * (x * y).sum(dim=1)  # l_ii
        return 0.5 * (row.mean() + col.mean()) - positives.mean()


def _check_mil(video: Tensor, text: Tensor, text_mask: Tensor | None) -> Tensor:
    """Validate MIL-NCE shapes; return the (B, K) bool mask (all True when None)."""
    if video.ndim != 2 or text.ndim != 3 or text.shape[0] != video.shape[0] \
            or text.shape[2] != video.shape[1]:
        raise ValueError(f"ChunkedMILNCELoss: expected video (B, D) and text (B, K, D), got "
                         f"{tuple(video.shape)} and {tuple(text.shape)}")
    b, k = text.shape[:2]
    if text_mask is None:
        return torch.ones(b, k, dtype=torch.bool, device=text.device)
    if text_mask.shape != (b, k):
        raise ValueError(f"ChunkedMILNCELoss: text_mask must have shape ({b}, {k}), "
                         f"got {tuple(text_mask.shape)}")
    return text_mask.to(torch.bool)


class ChunkedMILNCELoss(nn.Module):
    """MIL-NCE equal to :class:`~mmssl.losses.milnce.MILNCELoss`, computed in blocks.

    Scores S[i, (j,k)] = s·v_i·t_{j,k} over the N valid candidates only (s = 1/τ or 1).
    With row_i = lse_{j,k∈P_j} S[i,(j,k)] and c_{(j,k)} = lse_i S[i,(j,k)] from
    :func:`row_col_logsumexp`::

        num_i = lse_{k∈P_i} S[i,(i,k)]
        den_i = logaddexp(row_i, lse_{k∈P_i} c_{(i,k)})   (symmetric=True, reference)
        den_i = row_i                                     (symmetric=False, row-only)
        L = mean over rows with a valid candidate of (den_i − num_i)

    The B×(B·K) score matrix is never materialised: memory O(B·K·chunk + B·K·D).

    Args:
        temperature: if given, scores are divided by it (the reference uses none).
        normalize: L2-normalise v and t first (the reference does not).
        symmetric: row + column denominator (reference) or row only.
        chunk_size: videos per block; two chunk_size×N buffers live at a time.

    Shapes:
        video: (B, D); text: (B, K, D); text_mask: (B, K) bool, optional. Returns a scalar.
    """

    def __init__(self, temperature: float | None = None, normalize: bool = False,
                 symmetric: bool = True, chunk_size: int = DEFAULT_CHUNK) -> None:
        super().__init__()
        if temperature is not None and temperature <= 0:
            raise ValueError(f"ChunkedMILNCELoss: temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self.normalize = normalize
        self.symmetric = symmetric
        self.chunk_size = int(chunk_size)

    def forward(self, video: Tensor, text: Tensor, text_mask: Tensor | None = None) -> Tensor:
        """Compute the loss; see the class docstring for the formula and shapes."""
        text_mask = _check_mil(video, text, text_mask)
        zero = connected_zero(video, text)
        has_pos = text_mask.any(dim=1)  # (B,)
        if not bool(has_pos.any()):
            return zero
        if self.normalize:
            video, text = F.normalize(video, dim=-1), F.normalize(text, dim=-1)
        scale = video.new_tensor(1.0 if self.temperature is None else 1.0 / self.temperature)
        valid = text_mask.reshape(-1)
        row, cand_col = row_col_logsumexp(video, text.flatten(0, 1)[valid], scale,
                                          self.chunk_size)
        # Rows with no valid candidate get finite dummies (no NaN gradients), dropped below.
        no_pos = ~has_pos.unsqueeze(1)
        own = scale * (text * video.unsqueeze(1)).sum(dim=-1)  # (B, K): S[i, (i,k)]
        own = own.masked_fill(~text_mask, float("-inf")).masked_fill(no_pos, 0.0)
        denominator = row
        if self.symmetric:
            col = cand_col.new_full((valid.numel(),), float("-inf"))
            col = col.masked_scatter(valid, cand_col).view_as(own).masked_fill(no_pos, 0.0)
            denominator = torch.logaddexp(row, torch.logsumexp(col, dim=1))
        per_row = denominator - torch.logsumexp(own, dim=1)
        return per_row[has_pos].mean()
