"""MIL-NCE: contrastive learning with several candidate positives per video."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.losses.checks import connected_zero


class MILNCELoss(nn.Module):
    """MIL-NCE of Miech et al., in the form of the authors' reference code.

    Reference:
        Miech, Alayrac, Smaira, Laptev, Sivic & Zisserman, "End-to-End Learning of Visual
        Representations from Uncurated Instructional Videos", CVPR 2020.
        Reference code: github.com/antoine77340/MIL-NCE_HowTo100M (``loss.py``).

    Video i has K candidate narrations t_{i,1..K} (``text_mask`` marks the valid ones,
    P_i = {k : text_mask[i, k]}). Scores S[i, j, k] = v_i·t_{j,k} (raw dot products by
    default; optionally L2-normalised and/or divided by a temperature). Invalid
    candidates are excluded everywhere. Per video i::

        num_i = log Σ_{k∈P_i} exp S[i,i,k]

        symmetric=True  (reference):
            den_i = log( Σ_{j,k∈P_j} exp S[i,j,k]  +  Σ_{j,k∈P_i} exp S[j,i,k] )
                    (row i: v_i against every valid candidate of every video;
                     column i: every video against i's candidates)
        symmetric=False (row-only variant):
            den_i = log Σ_{j,k∈P_j} exp S[i,j,k]

        L = mean_i (den_i - num_i)

    In the symmetric form the positives appear in both the row and the column, so
    den_i ≥ log 2 + num_i and the minimum of the loss is log 2 (as in the reference code);
    the row-only form has minimum 0.

    With K = 1 the symmetric form is -mean_i log(e^{s_ii} / (Σ_j e^{s_ij} + Σ_j e^{s_ji})):
    a single softmax over row *and* column with the positive counted twice — an
    un-halved relative of the symmetric :class:`~mmssl.losses.nce.NCELoss` (which averages
    two separate softmaxes), not equal to it.

    Rows with no valid candidate cannot be anchors and are left out of the mean (their
    video still appears as a negative in the columns of other rows); if no row is valid
    the loss is a zero still connected to the inputs.

    Args:
        temperature: if given, scores are divided by it (the reference uses none).
        normalize: L2-normalise v and t first (the reference does not).
        symmetric: use the row + column denominator (reference) or the row-only one.

    Shapes:
        video: (B, D); text: (B, K, D); text_mask: (B, K) bool, optional (all valid when
        None). Returns a scalar.
    """

    def __init__(
        self,
        temperature: float | None = None,
        normalize: bool = False,
        symmetric: bool = True,
    ) -> None:
        super().__init__()
        if temperature is not None and temperature <= 0:
            raise ValueError(f"MILNCELoss: temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self.normalize = normalize
        self.symmetric = symmetric

    def forward(self, video: Tensor, text: Tensor, text_mask: Tensor | None = None) -> Tensor:
        """Compute the loss; see the class docstring for the formula and shapes."""
        if video.ndim != 2 or text.ndim != 3 or text.shape[0] != video.shape[0] \
                or text.shape[2] != video.shape[1]:
            raise ValueError(f"MILNCELoss: expected video (B, D) and text (B, K, D), got "
                             f"{tuple(video.shape)} and {tuple(text.shape)}")
        b, k, d = text.shape
        if text_mask is None:
            text_mask = torch.ones(b, k, dtype=torch.bool, device=text.device)
        elif text_mask.shape != (b, k):
            raise ValueError(f"MILNCELoss: text_mask must have shape ({b}, {k}), "
                             f"got {tuple(text_mask.shape)}")
        text_mask = text_mask.to(torch.bool)
        zero = connected_zero(video, text)
        has_pos = text_mask.any(dim=1)  # (B,)
        if not bool(has_pos.any()):
            return zero

        if self.normalize:
            video = F.normalize(video, dim=-1)
            text = F.normalize(text, dim=-1)
        scores = (video @ text.reshape(b * k, d).t()).view(b, b, k)  # S[i, j, k]
        if self.temperature is not None:
            scores = scores / self.temperature
        # Candidate (j, k) invalid -> excluded from every sum it appears in.
        scores = scores.masked_fill(~text_mask.unsqueeze(0), float("-inf"))

        diag = scores.diagonal(dim1=0, dim2=1).t()  # (B, K): S[i, i, k]
        # A row with no valid candidate would give logsumexp(-inf..) = -inf and NaN
        # gradients; give it finite dummies and drop it from the mean below.
        diag = diag.masked_fill(~has_pos.unsqueeze(1), 0.0)
        numerator = torch.logsumexp(diag, dim=1)  # (B,)

        row = scores.reshape(b, b * k)  # row i: v_i against all candidates
        if self.symmetric:
            column = scores.transpose(0, 1).reshape(b, b * k)  # column i: S[:, i, :]
            denominator = torch.logsumexp(torch.cat([row, column], dim=1), dim=1)
        else:
            denominator = torch.logsumexp(row, dim=1)
        per_row = (denominator - numerator)[has_pos]
        return per_row.mean()
