"""Exact maximum-inner-product search, chunked over queries (never an n × L block for big L)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

MAX_BLOCK_ENTRIES = 1 << 24  # scores held at once: rows per chunk = this // n_labels (>= 1)


@torch.no_grad()
def exact_topk(queries: torch.Tensor, labels: torch.Tensor, k: int, *,
               max_block_entries: int = MAX_BLOCK_ENTRIES) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` labels of highest ``q·p`` for each query, by exact matrix product.

    queries (n, dim), labels (L, dim) on the same device. Returns (ids (n, k') int64,
    scores (n, k') float32) as numpy arrays, best first, k' = min(k, L). Queries are processed
    ``max(1, max_block_entries // L)`` at a time, so at most about ``max_block_entries`` scores
    (64 MiB) exist at once.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n, L = queries.shape[0], labels.shape[0]
    k = min(k, L)
    rows = max(1, max_block_entries // max(L, 1))
    ids = np.empty((n, k), np.int64)
    scores = np.empty((n, k), np.float32)
    labels_t = labels.T.contiguous()
    for s in range(0, n, rows):
        e = min(s + rows, n)
        block = queries[s:e] @ labels_t  # (rows, L)
        top = torch.topk(block, k, dim=1, largest=True, sorted=True)
        ids[s:e] = top.indices.cpu().numpy()
        scores[s:e] = top.values.float().cpu().numpy()
    return ids, scores


def topk_to_csr(ids: np.ndarray, scores: np.ndarray, n_labels: int) -> sp.csr_matrix:
    """(n, k) ids and scores -> CSR float32 (n, n_labels) with sorted indices."""
    n, k = ids.shape
    indptr = np.arange(0, n * k + 1, k, dtype=np.int64)
    P = sp.csr_matrix((scores.ravel().astype(np.float32), ids.ravel(), indptr),
                      shape=(n, n_labels))
    P.sort_indices()
    return P
