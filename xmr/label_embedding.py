"""Label embeddings used to build the label tree."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize


def pifa(X: sp.csr_matrix, Y: sp.csr_matrix) -> sp.csr_matrix:
    """Positive Instance Feature Aggregation: ``l2norm_rows(Ŷᵀ X)``, Ŷ = Y with l2-normalised
    instance rows (PECOS's ``LabelEmbeddingFactory.pifa``).

    X: (N, D) CSR float32; Y: (N, L) CSR 0/1. Returns (L, D) CSR float32, unit rows (a label
    with no positive instance gets an all-zero row).
    """
    Y_hat = normalize(sp.csr_matrix(Y, dtype=np.float32), norm="l2", axis=1)
    Z = sp.csr_matrix(Y_hat.T @ X, dtype=np.float32)
    Z = normalize(Z, norm="l2", axis=1)
    Z.sort_indices()
    return Z.astype(np.float32)
