"""Trie–tree hybrid indexer (Paper 2): trie levels down to a small character depth, then
balanced hierarchical spherical 2-means under each trie node.

Built as every indexer: ``build(Z, *, labels) -> LabelTree`` (see :mod:`xmr.indexers.trie`).

Levels ``1..trie_depth`` are exactly those of ``TrieIndexer(depth=trie_depth)`` (end-of-string
and padding nodes included). Under each depth-``trie_depth`` node ``u`` with ``n_u`` labels,
the labels are split by the balanced 2-means of `HierarchicalKMeans` (same kernel,
`xmr.kernels.kmeans.split_level`) on their rows of ``Z``, ``k_u = ⌈log₂(n_u / max_leaf_size)⌉``
times (0 when ``n_u <= max_leaf_size``). The k-means part has the binary depth
``K = max_u k_u`` everywhere: a subtree that stops splitting early (``k_u < K``) is padded with
single-child levels below its leaves, so all leaves are at the same depth. With
``nr_splits = 2^b`` only every ``b``-th binary level is kept (counted from the bottom, as
`LabelTree.from_leaf_codes` groups siblings), so the k-means part is B-ary.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from xmr._threads import resolve_n_jobs
from xmr._validation import check_int
from xmr.indexers.hkmeans import random_pairs
from xmr.indexers.trie import (
    ClusteringStringIndexer,
    binary_levels_kept,
    sorted_order,
    tree_from_flags,
)
from xmr.kernels.kmeans import split_level
from xmr.params import HybridParams, store_params
from xmr.tree import LabelTree


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(starts[j], ends[j])`` over j."""
    lengths = ends - starts
    total = int(lengths.sum())
    shift = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + shift


_P = HybridParams  # the defaults, defined once


class TrieHybridIndexer(ClusteringStringIndexer):
    """Trie to ``trie_depth`` characters, then balanced spherical 2-means below each trie node
    (see the module doc)."""

    Params = HybridParams

    def __init__(self, *, trie_depth: int = _P.trie_depth, nr_splits: int = _P.nr_splits,
                 max_leaf_size: int = _P.max_leaf_size, max_iter: int = _P.max_iter,
                 seed: int = 0, n_jobs: int = -1):
        store_params(self, locals())

    def _validate_own(self) -> None:
        check_int("trie_depth", self.trie_depth, minimum=1)

    def build(self, Z: sp.csr_matrix, *, labels: Sequence[str] | None = None) -> LabelTree:
        """The tree of ``labels`` (see `ClusteringStringIndexer._inputs`)."""
        Z, labels = self._inputs(Z, labels)
        perm, lcp, _ = sorted_order(labels)
        L = len(labels)
        Zs = Z[perm]  # rows in sorted order: positions below index Zs
        Zs.sort_indices()
        levels = [lcp < t for t in range(1, self.trie_depth + 1)]
        bounds = np.append(np.flatnonzero(levels[-1]), L)
        seg_a, seg_b = bounds[:-1], bounds[1:]
        sizes = seg_b - seg_a
        seg_k = np.zeros(sizes.size, np.int64)  # binary splits each trie node gets
        big = sizes > self.max_leaf_size
        seg_k[big] = np.ceil(np.log2(sizes[big] / self.max_leaf_size)).astype(np.int64)
        n_binary = int(seg_k.max()) if seg_k.size else 0
        pos = np.arange(L, dtype=np.int64)  # sorted position at each position (k-means order)
        rng = np.random.default_rng(self.seed)
        n_workers = resolve_n_jobs(self.n_jobs)
        flags = levels[-1].copy()
        binary = []
        args = (Zs.indptr.astype(np.int64), Zs.indices.astype(np.int64),
                Zs.data.astype(np.float64), Zs.shape[1])
        for r in range(1, n_binary + 1):
            act = np.flatnonzero(seg_k >= r)
            a, b = seg_a[act], seg_b[act]
            idx = _ranges(a, b)
            sub_bounds = np.concatenate([[0], np.cumsum(b - a)])
            new_perm, new_bounds = split_level(*args, pos[idx], sub_bounds,
                                               random_pairs(rng, b - a), self.max_iter,
                                               n_workers)
            pos[idx] = new_perm
            mids = a + (new_bounds[1::2] - sub_bounds[:-1])
            flags[mids] = True
            binary.append(flags.copy())
            # each active segment [a, b) becomes [a, mid) and [mid, b), same k
            seg_a = np.concatenate([seg_a, mids])
            seg_b = np.concatenate([seg_b, b])
            seg_b[act] = mids
            seg_k = np.concatenate([seg_k, seg_k[act]])
            order = np.argsort(seg_a, kind="stable")
            seg_a, seg_b, seg_k = seg_a[order], seg_b[order], seg_k[order]
        levels += [binary[j - 1] for j in binary_levels_kept(n_binary, self.nr_splits)]
        return tree_from_flags(perm[pos], levels)

