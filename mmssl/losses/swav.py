"""SwAV: swapped prediction of Sinkhorn-Knopp cluster codes."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmssl.distributed import gather_with_grad
from mmssl.losses.checks import check_pair


@torch.no_grad()
def sinkhorn(scores: Tensor, epsilon: float = 0.05, iterations: int = 3) -> Tensor:
    """Soft codes that split a batch equally among the prototypes (Sinkhorn-Knopp).

    Reference: Caron et al., SwAV (below), Sec. 3.1 "Computing codes online", and
    ``distributed_sinkhorn`` in the reference code. Solves, approximately,
    max_Q Tr(Qᵀ S) + ε·H(Q) over the transportation polytope, starting from
    Q⁰ = exp(S/ε) / Σ exp(S/ε) and alternating ``iterations`` times::

        Q ← Q / (K · colsum(Q))   every prototype column sums to 1/K   (equal partition)
        Q ← Q / (B · rowsum(Q))   every sample row sums to 1/B

    then returns B·Q. Marginals of the result q (B, K):
        * rows (samples): Σ_k q_ik = 1 *exactly* (the last step is the row step), so each
          row is a soft assignment, a distribution over prototypes;
        * columns (prototypes): Σ_i q_ik ≈ B/K, the equal partition of the batch; exact
          only in the limit of many iterations (3 suffice in practice, as in the paper).
    A constant shift of S changes nothing. The iterations run in the log domain (each
    division is a subtraction of a logsumexp): the same numbers, but large scores / small
    ε can neither overflow exp nor underflow a whole column to 0/0 (the reference code
    exponentiates directly, which is safe for its cosine scores in [-1, 1]). No gradient
    flows through the codes.

    Shapes: scores (B, K) -> codes (B, K), same dtype.
    """
    if scores.ndim != 2 or epsilon <= 0 or iterations < 1:
        raise ValueError(f"sinkhorn: expected scores (B, K), epsilon > 0, iterations >= 1, "
                         f"got {tuple(scores.shape)}, {epsilon}, {iterations}")
    b, k = scores.shape
    log_q = scores / epsilon
    log_q = log_q - torch.logsumexp(log_q.flatten(), dim=0)
    for _ in range(iterations):
        log_q = log_q - torch.logsumexp(log_q, dim=0, keepdim=True) - math.log(k)
        log_q = log_q - torch.logsumexp(log_q, dim=1, keepdim=True) - math.log(b)
    return torch.exp(log_q + math.log(b))


class SwAVLoss(nn.Module):
    """SwAV swapped-prediction loss for two views, with Sinkhorn codes as targets.

    Reference:
        Caron, Misra, Mairal, Goyal, Bojanowski & Joulin, "Unsupervised Learning of Visual
        Features by Contrasting Cluster Assignments", NeurIPS 2020, Eq. (1)-(2).
        Reference code: github.com/facebookresearch/swav (``main_swav.py``).

    s1, s2 are prototype scores z·c_k of the two views (the prototypes C and their
    normalisation belong to the model, not to this loss). Codes q1 = sinkhorn(s1),
    q2 = sinkhorn(s2) (no gradient); predictions p = softmax(s / τ)::

        L = -½ · mean_i [ Σ_k q2_ik log p1_ik + Σ_k q1_ik log p2_ik ]

    The ½ follows the reference code (it averages over the views codes are computed
    for); the paper's Eq. (1) writes the plain sum of the two swapped terms.

    Queue: ``queue`` holds scores of past samples against the *current* prototypes
    (the reference code stores past embeddings and re-scores them every step), shape
    (Q, K) shared by both views, or (2, Q, K) one per view as in the reference code. It is
    concatenated *before* the batch for Sinkhorn only, so the equal-partition constraint
    is over Q + B samples; only the batch's codes are used in the loss and the queue
    gets no gradient.

    Multi-crop (extra low-resolution views) is not handled here.

    Distributed: with ``gather_distributed=True`` s1, s2 (and the queue) are gathered
    with :func:`mmssl.distributed.gather_with_grad`, so Sinkhorn partitions the global
    batch (as the reference ``distributed_sinkhorn`` does) and every process computes the
    same loss as one process on the whole batch.

    Args:
        temperature: τ of the predictions (paper: 0.1).
        epsilon: ε of Sinkhorn (paper: 0.05).
        sinkhorn_iterations: number of Sinkhorn-Knopp iterations (paper: 3).
        gather_distributed: gather scores (and queue) from every process first.

    Shapes:
        s1, s2: (B, K); queue: (Q, K) or (2, Q, K), optional. Returns a scalar.
    """

    def __init__(
        self,
        temperature: float = 0.1,
        epsilon: float = 0.05,
        sinkhorn_iterations: int = 3,
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        if temperature <= 0 or epsilon <= 0 or sinkhorn_iterations < 1:
            raise ValueError(f"SwAVLoss: need temperature > 0, epsilon > 0, iterations >= 1, "
                             f"got {temperature}, {epsilon}, {sinkhorn_iterations}")
        self.temperature = float(temperature)
        self.epsilon = float(epsilon)
        self.sinkhorn_iterations = int(sinkhorn_iterations)
        self.gather_distributed = gather_distributed

    def codes(self, scores: Tensor, queue: Tensor | None) -> Tensor:
        """Sinkhorn codes of ``scores`` (B, K), with ``queue`` (Q, K) prepended; (B, K)."""
        n_past = 0 if queue is None else queue.shape[0]
        if queue is not None:
            scores = torch.cat([queue.to(scores.dtype), scores], dim=0)
        return sinkhorn(scores.detach(), self.epsilon, self.sinkhorn_iterations)[n_past:]

    def forward(self, s1: Tensor, s2: Tensor, queue: Tensor | None = None) -> Tensor:
        """Compute the loss; see the class docstring for the formula and shapes."""
        check_pair("SwAVLoss", s1, s2, "s1, s2", "(B, K)")
        if queue is not None and (queue.ndim not in (2, 3) or queue.shape[-1] != s1.shape[1]
                                  or (queue.ndim == 3 and queue.shape[0] != 2)):
            raise ValueError(f"SwAVLoss: queue must be (Q, {s1.shape[1]}) or "
                             f"(2, Q, {s1.shape[1]}), got {tuple(queue.shape)}")
        queues = (queue, queue) if queue is None or queue.ndim == 2 else tuple(queue)
        if self.gather_distributed:
            s1, s2 = gather_with_grad(s1), gather_with_grad(s2)
            queues = tuple(None if x is None else gather_with_grad(x.detach()) for x in queues)
        q1, q2 = self.codes(s1, queues[0]), self.codes(s2, queues[1])
        log_p1 = F.log_softmax(s1 / self.temperature, dim=1)
        log_p2 = F.log_softmax(s2 / self.temperature, dim=1)
        per_sample = (q2 * log_p1).sum(dim=1) + (q1 * log_p2).sum(dim=1)
        return -0.5 * per_sample.mean()
