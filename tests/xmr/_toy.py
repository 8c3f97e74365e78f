"""Tiny seeded fixtures shared by the xmr unit tests (imported as ``_toy``)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from xmr.tree import LabelTree


def random_features(n_rows: int, n_features: int, *, density: float = 0.2,
                    seed: int = 0) -> sp.csr_matrix:
    """(n_rows, n_features) CSR float32, l2-normalised rows, every row non-empty."""
    rng = np.random.default_rng(seed)
    X = sp.random(n_rows, n_features, density=density, format="csr", dtype=np.float64,
                  random_state=rng)
    one = sp.csr_matrix((rng.random(n_rows) + 0.1,
                         (np.arange(n_rows), rng.integers(0, n_features, n_rows))),
                        shape=(n_rows, n_features))
    X = normalize(sp.csr_matrix(X + one), norm="l2").astype(np.float32)
    X.sort_indices()
    return X


def random_labels(n_rows: int, n_labels: int, *, max_per_row: int = 3,
                  seed: int = 0) -> sp.csr_matrix:
    """(n_rows, n_labels) 0/1 CSR float32; every row has a label and every label a row
    (needs n_rows >= n_labels)."""
    assert n_rows >= n_labels
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    first = rng.permutation(n_rows)
    for lab in range(n_labels):  # each label gets one distinct row
        rows.append(first[lab])
        cols.append(lab)
    for r in range(n_rows):
        for lab in rng.choice(n_labels, size=rng.integers(1, max_per_row + 1), replace=False):
            rows.append(r)
            cols.append(lab)
    Y = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                      shape=(n_rows, n_labels))
    Y.data[:] = 1.0  # duplicates were summed
    Y.sort_indices()
    return Y


def random_problem(n_rows: int = 60, n_features: int = 40, n_labels: int = 24, *,
                   seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    return (random_features(n_rows, n_features, seed=seed),
            random_labels(n_rows, n_labels, seed=seed + 1000))


def separable_problem(n_labels: int = 40, *, rows_per_label: int = 3, signature: int = 3,
                      n_noise: int = 10, seed: int = 0
                      ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Each label owns ``signature`` features that no other label uses; each row has exactly
    one label and carries that label's signature (strong) plus two noise features (weak)."""
    rng = np.random.default_rng(seed)
    D = n_labels * signature + n_noise
    rows, cols, vals, labels = [], [], [], []
    r = 0
    for lab in range(n_labels):
        for _ in range(rows_per_label):
            for f in range(signature):
                rows.append(r)
                cols.append(lab * signature + f)
                vals.append(1.0 + 0.1 * rng.random())
            for f in rng.choice(n_noise, size=2, replace=False):
                rows.append(r)
                cols.append(n_labels * signature + f)
                vals.append(0.2 * rng.random())
            labels.append(lab)
            r += 1
    X = normalize(sp.csr_matrix((vals, (rows, cols)), shape=(r, D)), norm="l2")
    X = X.astype(np.float32)
    X.sort_indices()
    Y = sp.csr_matrix((np.ones(r, np.float32), (np.arange(r), labels)), shape=(r, n_labels))
    return X, Y


def random_tree(level_sizes: list[int], *, seed: int = 0) -> LabelTree:
    """A random tree with the given nodes per level (root first, labels last): each node of a
    level gets a random parent, every parent at least one child."""
    assert level_sizes[0] == 1
    rng = np.random.default_rng(seed)
    chain = []
    for n_par, n_ch in zip(level_sizes[:-1], level_sizes[1:], strict=True):
        assert n_ch >= n_par
        parent = np.concatenate([np.arange(n_par), rng.integers(0, n_par, n_ch - n_par)])
        parent = parent[rng.permutation(n_ch)]
        chain.append(sp.csc_matrix((np.ones(n_ch, np.float32), (np.arange(n_ch), parent)),
                                   shape=(n_ch, n_par)))
    return LabelTree.from_pecos_chain(chain)


def leaf_of_label(tree: LabelTree) -> np.ndarray:
    """(L,) leaf-cluster id of every label."""
    return sp.csr_matrix(tree.chain[-1]).indices.copy()
