"""In-batch-negatives InfoNCE, the dual encoder's training objective."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class InBatchNegativesLoss(nn.Module):
    """InfoNCE with in-batch negatives (plus optional sampled hard negatives).

    A batch holds B (query, relevant label) pairs, embedded as unit vectors ``q_i`` and
    ``p_i``. For each query, the other B - 1 labels of the batch serve as negatives, so the
    loss optimises a softmax over the batch's labels::

        loss = mean_i  -log  exp(q_i·p_i / τ) / (Σ_j exp(q_i·p_j / τ) + Σ_h exp(q_i·n_ih / τ))

    i.e. it pushes each query's cosine with its own label above its cosine with every other
    label of the batch (and with its ``H`` hard negatives ``n_ih``, when given), by a margin
    that grows as the temperature ``τ`` shrinks. This is the sampled-softmax estimate of the
    full softmax over all labels, with popular labels sampled more often as negatives (like
    sentence-transformers' ``MultipleNegativesRankingLoss``, which uses scale = 1/τ).

    In-batch "negatives" that are in fact relevant to the query (the same label twice in a
    batch, or another positive of a multi-label query) are excluded with ``ignore``.

    Parameters
    ----------
    temperature : float > 0
        τ; cosines lie in [-1, 1], so 1/τ is the largest logit gap.
    """

    def __init__(self, temperature: float = 0.1):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def forward(self, queries: torch.Tensor, labels: torch.Tensor, *,
                hard_negatives: torch.Tensor | None = None,
                ignore: torch.Tensor | None = None) -> torch.Tensor:
        """Mean InfoNCE loss of a batch (a scalar).

        queries, labels : (B, dim), row i of ``labels`` is the positive of query i.
        hard_negatives : (B, H, dim) extra negatives per query, or None.
        ignore : (B, B) bool, True where label j must not count as a negative of query i
            (the diagonal is never ignored), or None.
        """
        logits = queries @ labels.T / self.temperature  # (B, B)
        if ignore is not None:
            eye = torch.eye(logits.shape[0], dtype=torch.bool, device=logits.device)
            logits = logits.masked_fill(ignore & ~eye, float("-inf"))
        if hard_negatives is not None:
            hard = torch.einsum("bd,bhd->bh", queries, hard_negatives) / self.temperature
            logits = torch.cat([logits, hard], dim=1)  # (B, B + H)
        target = torch.arange(logits.shape[0], device=logits.device)
        return F.cross_entropy(logits, target)
