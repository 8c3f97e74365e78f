"""Label embeddings used to build the label tree."""

from __future__ import annotations

import numba as nb
import numpy as np
import scipy.sparse as sp


@nb.njit(nogil=True, cache=True)
def _normalize_rows_l2(indptr, data):
    """In place, exactly as ``sklearn.preprocessing.normalize(norm="l2")`` on CSR: squares in
    the data's dtype summed in float64, each value divided by the float64 norm. (Not imported
    from scikit-learn: loading it costs the training process ~140 MB of resident memory.)"""
    for i in range(indptr.size - 1):
        s = 0.0
        for j in range(indptr[i], indptr[i + 1]):
            s += data[j] * data[j]
        if s == 0.0:
            continue
        s = np.sqrt(s)
        for j in range(indptr[i], indptr[i + 1]):
            data[j] = data[j] / s


def normalize(M: sp.csr_matrix) -> sp.csr_matrix:
    """A copy of CSR ``M`` with l2-normalised rows."""
    M = sp.csr_matrix(M, copy=True)
    M.sum_duplicates()
    _normalize_rows_l2(M.indptr, M.data)
    return M


def pifa(X: sp.csr_matrix, Y: sp.csr_matrix) -> sp.csr_matrix:
    """Positive Instance Feature Aggregation: ``l2norm_rows(Ŷᵀ X)``, Ŷ = Y with l2-normalised
    instance rows (PECOS's ``LabelEmbeddingFactory.pifa``).

    X: (N, D) CSR float32; Y: (N, L) CSR 0/1. Returns (L, D) CSR float32, unit rows (a label
    with no positive instance gets an all-zero row).
    """
    Y_hat = normalize(sp.csr_matrix(Y, dtype=np.float32))
    Z = sp.csr_matrix(Y_hat.T @ X, dtype=np.float32)
    Z = normalize(Z)
    Z.sort_indices()
    return Z.astype(np.float32)
