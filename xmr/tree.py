"""The label tree: a chain of sparse cluster matrices, in PECOS's own layout.

``chain[t]`` is a CSC float32 0/1 matrix of shape (n_{t+1}, n_t): row = node at level t+1,
column = its parent at level t. ``chain[0]`` has one column (the root), ``chain[-1]`` has
one row per label. PECOS (``XLinearModel.train(..., C=chain)``, ``model_chain[i].C``) uses the
same matrices, so both implementations can be trained on the same tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class LabelTree:
    chain: tuple[sp.csc_matrix, ...]

    def __post_init__(self):
        if len(self.chain) == 0:
            raise ValueError("a label tree needs at least one cluster matrix")
        prev = 1
        for t, C in enumerate(self.chain):
            if not sp.issparse(C):
                raise TypeError(f"chain[{t}] must be a scipy.sparse matrix, got {type(C).__name__}")
            if C.shape[1] != prev:
                raise ValueError(f"chain[{t}] has {C.shape[1]} columns but level {t} has "
                                 f"{prev} nodes (chain[0] must have 1 column)")
            per_row = np.diff(sp.csr_matrix(C).indptr)
            if (per_row != 1).any():
                bad = int(np.flatnonzero(per_row != 1)[0])
                raise ValueError(f"chain[{t}] row {bad} has {per_row[bad]} parents; every node "
                                 "needs exactly one")
            if (np.diff(sp.csc_matrix(C).indptr) == 0).any():
                raise ValueError(f"chain[{t}] has a node at level {t} with no child")
            prev = C.shape[0]

    @classmethod
    def from_pecos_chain(cls, chain: Sequence) -> LabelTree:
        """Accepts a list of matrices or a PECOS ``ClusterChain``-like sequence."""
        mats = []
        for C in chain:
            C = sp.csc_matrix(C, dtype=np.float32, copy=True)  # never touch the caller's
            C.eliminate_zeros()  # a stored 0 is not an edge
            C.data[:] = 1.0
            C.sort_indices()
            mats.append(C)
        return cls(tuple(mats))

    def to_pecos_chain(self) -> list[sp.csc_matrix]:
        return [C.copy() for C in self.chain]

    @property
    def depth(self) -> int:
        """Number of levels of models (= number of cluster matrices)."""
        return len(self.chain)

    @property
    def n_labels(self) -> int:
        return self.chain[-1].shape[0]

    @property
    def level_sizes(self) -> list[int]:
        """Nodes per level, root (1) first, labels last."""
        return [1] + [C.shape[0] for C in self.chain]

    @classmethod
    def from_leaf_codes(cls, codes: np.ndarray, n_leaves: int, nr_splits: int) -> LabelTree:
        """Labels → leaf clusters ``codes`` (siblings of the binary tree adjacent), then group
        every ``nr_splits`` consecutive clusters up to a root, exactly as PECOS's
        ``ClusterChain.from_partial_chain`` does."""
        codes = np.asarray(codes, dtype=np.int64)
        L = codes.size
        leaf = sp.csc_matrix((np.ones(L, dtype=np.float32), (np.arange(L), codes)),
                             shape=(L, n_leaves))
        chain = [leaf]
        k = n_leaves
        while k > nr_splits:
            parents = np.arange(k) // nr_splits
            k_up = int(parents[-1]) + 1
            chain.insert(0, sp.csc_matrix(
                (np.ones(k, dtype=np.float32), (np.arange(k), parents)), shape=(k, k_up)))
            k = k_up
        if k > 1:
            chain.insert(0, sp.csc_matrix(np.ones((k, 1), dtype=np.float32)))
        return cls.from_pecos_chain(chain)

    def level_targets(self, Y: sp.csr_matrix) -> list[sp.csc_matrix]:
        """Y_t for t = 0..depth-1: instances × nodes at level t+1, 0/1 (Y_{depth-1} = Y)."""
        targets = [sp.csc_matrix(Y, dtype=np.float32)]
        for C in reversed(self.chain[1:]):
            T = sp.csc_matrix(targets[0] @ C, dtype=np.float32)
            T.data[:] = 1.0
            T.sort_indices()
            targets.insert(0, T)
        return targets

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for t, C in enumerate(self.chain):
            sp.save_npz(folder / f"C{t}.npz", C)

    @classmethod
    def load(cls, folder: Path, depth: int) -> LabelTree:
        return cls.from_pecos_chain([sp.load_npz(Path(folder) / f"C{t}.npz")
                                     for t in range(depth)])
