"""Ranking metrics as pure functions (PECOS definitions).

Every function takes the ground truth ``Y_true`` (CSR, N x L, non-zero = relevant) and the
predicted scores ``Y_pred`` (CSR, N x L, higher = better; absent = not predicted) and returns
the mean over **all** N rows: a row with no prediction counts 0, a row with no relevant label
counts 0 for recall, nDCG and MRR.

- precision@k = |top-k ∩ truth| / k
- recall@k    = |top-k ∩ truth| / |truth|
- nDCG@k      = Σ_{i<k} rel_i / log2(i+2)  /  Σ_{i<min(k,|truth|)} 1 / log2(i+2)
- MRR@k       = 1 / (rank of the first relevant label within the top k), else 0

Ties in the scores are broken by the lower label id.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import scipy.sparse as sp

from xmr._validation import check_shape_match

__all__ = ["topk_labels", "precision_at_k", "recall_at_k", "ndcg_at_k", "mrr_at_k",
           "ranking_metrics", "per_query_metrics"]


def _csr(M, name: str) -> sp.csr_matrix:
    if not sp.issparse(M):
        raise TypeError(f"{name} must be a scipy.sparse matrix, got {type(M).__name__}")
    M = sp.csr_matrix(M)
    if not M.has_sorted_indices:
        M = M.copy()
        M.sort_indices()
    return M


@nb.njit(cache=True)
def _topk_kernel(indptr, indices, data, k):
    n = indptr.size - 1
    out = np.full((n, k), -1, dtype=np.int64)
    for r in range(n):
        s, e = indptr[r], indptr[r + 1]
        if e == s:
            continue
        # stable sort on -score keeps ascending label ids among ties (indices are sorted)
        order = np.argsort(-data[s:e], kind="mergesort")
        m = min(k, e - s)
        for j in range(m):
            out[r, j] = indices[s + order[j]]
    return out


def topk_labels(Y_pred, k: int) -> np.ndarray:
    """(N, k) int64 label ids by decreasing score, padded with -1."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    P = _csr(Y_pred, "Y_pred")
    return _topk_kernel(P.indptr, P.indices, P.data.astype(np.float64), int(k))


@nb.njit(cache=True)
def _hits_kernel(top, t_indptr, t_indices):
    """hits[r, j] = 1 if top[r, j] is relevant for row r."""
    n, k = top.shape
    hits = np.zeros((n, k), dtype=np.float64)
    for r in range(n):
        s, e = t_indptr[r], t_indptr[r + 1]
        for j in range(k):
            lab = top[r, j]
            if lab < 0:
                break
            pos = np.searchsorted(t_indices[s:e], lab)
            if pos < e - s and t_indices[s + pos] == lab:
                hits[r, j] = 1.0
    return hits


def _hits(Y_true, Y_pred, k: int) -> tuple[np.ndarray, np.ndarray]:
    T = _csr(Y_true, "Y_true").copy()
    T.eliminate_zeros()  # a stored 0 is not relevant
    P = _csr(Y_pred, "Y_pred")
    check_shape_match(T, P)
    hits = _hits_kernel(topk_labels(P, k), T.indptr, T.indices)
    n_true = np.diff(T.indptr).astype(np.float64)
    return hits, n_true


def precision_at_k(Y_true, Y_pred, k: int) -> float:
    hits, _ = _hits(Y_true, Y_pred, k)
    return float(hits.sum(axis=1).mean() / k) if hits.shape[0] else 0.0


def recall_at_k(Y_true, Y_pred, k: int) -> float:
    hits, n_true = _hits(Y_true, Y_pred, k)
    if not hits.shape[0]:
        return 0.0
    per_row = np.divide(hits.sum(axis=1), n_true, out=np.zeros_like(n_true), where=n_true > 0)
    return float(per_row.mean())


def ndcg_at_k(Y_true, Y_pred, k: int) -> float:
    hits, n_true = _hits(Y_true, Y_pred, k)
    if not hits.shape[0]:
        return 0.0
    discount = 1.0 / np.log2(np.arange(k) + 2.0)
    dcg = hits @ discount
    ideal_cum = np.concatenate([[0.0], np.cumsum(discount)])
    idcg = ideal_cum[np.minimum(n_true, k).astype(np.int64)]
    return float(np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0).mean())


def mrr_at_k(Y_true, Y_pred, k: int) -> float:
    hits, _ = _hits(Y_true, Y_pred, k)
    if not hits.shape[0]:
        return 0.0
    first = np.argmax(hits, axis=1)
    found = hits[np.arange(hits.shape[0]), first] > 0
    return float(np.where(found, 1.0 / (first + 1.0), 0.0).mean())


def ranking_metrics(Y_true, Y_pred) -> dict[str, float]:
    """The project's fixed metric names for a ranking task (what applies of them)."""
    return {
        "precision_at_1": precision_at_k(Y_true, Y_pred, 1),
        "precision_at_5": precision_at_k(Y_true, Y_pred, 5),
        "recall_at_10": recall_at_k(Y_true, Y_pred, 10),
        "recall_at_100": recall_at_k(Y_true, Y_pred, 100),
        "ndcg_at_10": ndcg_at_k(Y_true, Y_pred, 10),
        "mrr_at_10": mrr_at_k(Y_true, Y_pred, 10),
    }


def cold_positive_counts(Y_true, Y_pred, cold, k: int = 10) -> dict[str, np.ndarray]:
    """Per test row, the counts that split recall@k by warm and cold labels (``cold``:
    (n_labels,) bool, e.g. no training query): ``n_pos`` (relevant labels), ``n_pos_cold``
    (those that are cold), ``hits_at_{k}`` and ``hits_cold_at_{k}`` (how many of each the
    top k holds); each an (N,) int64 array. Summed over rows they give recall over positives:
    warm = (hits − hits_cold) / (n_pos − n_pos_cold), cold = hits_cold / n_pos_cold."""
    T = _csr(Y_true, "Y_true").copy()
    T.eliminate_zeros()
    P = _csr(Y_pred, "Y_pred")
    check_shape_match(T, P)
    cold = np.asarray(cold, dtype=bool)
    if cold.shape != (T.shape[1],):
        raise ValueError(f"cold must be a bool array of one value per label "
                         f"({T.shape[1]}), got shape {cold.shape}")
    top = topk_labels(P, k)
    hits = _hits_kernel(top, T.indptr, T.indices) > 0
    top_cold = (top >= 0) & cold[np.maximum(top, 0)]
    rows = np.repeat(np.arange(T.shape[0]), np.diff(T.indptr))
    return {"n_pos": np.diff(T.indptr).astype(np.int64),
            "n_pos_cold": np.bincount(rows, weights=cold[T.indices],
                                      minlength=T.shape[0]).astype(np.int64),
            f"hits_at_{k}": hits.sum(axis=1).astype(np.int64),
            f"hits_cold_at_{k}": (hits & top_cold).sum(axis=1).astype(np.int64)}


def per_query_metrics(Y_true, Y_pred) -> dict[str, np.ndarray]:
    """Each test row's own value of the headline metrics (their means are
    :func:`ranking_metrics`'s): ``{"recall_at_10", "recall_at_100", "precision_at_1",
    "reciprocal_rank"}`` (reciprocal rank of the first relevant label within the top 10, as
    ``mrr_at_10``), each an (N,) float64 array."""
    hits, n_true = _hits(Y_true, Y_pred, 100)  # (N, 100)
    found = np.zeros_like(n_true)
    out = {}
    for k in (10, 100):
        out[f"recall_at_{k}"] = np.divide(hits[:, :k].sum(axis=1), n_true,
                                          out=found.copy(), where=n_true > 0)
    out["precision_at_1"] = hits[:, 0].copy() if hits.shape[0] else found.copy()
    top10 = hits[:, :10]
    first = np.argmax(top10, axis=1) if hits.shape[0] else np.zeros(0, dtype=np.int64)
    hit = top10[np.arange(top10.shape[0]), first] > 0
    out["reciprocal_rank"] = np.where(hit, 1.0 / (first + 1.0), 0.0)
    return out
