"""Hierarchical 2-means with must-link constraints (Paper 2, "HC + must-link").

Built as every indexer: ``build(Z, *, labels) -> LabelTree`` (see :mod:`xmr.indexers.trie`).

Labels sharing the same first ``prefix_len`` characters (their whole text when shorter) form a
**component** that always stays together. Each component is one point: its feature is the
l2-normalised mean of its labels' rows of ``Z`` and its weight is its size (number of labels).
The components are split by recursive spherical 2-means balanced **by weight**: score
x·(c₁ − c₂), sort, cut where the running weight reaches half of the segment's total (both
sides non-empty), centres = normalised weighted sums, at most ``max_iter`` rounds
(`xmr.kernels.kmeans.weighted_split_level`). As in `HierarchicalKMeans` there are
``K = ⌈log₂(L / max_leaf_size)⌉`` (at least 1) rounds; a segment that is a single component
cannot split and is padded with single-child levels, so a leaf may exceed ``max_leaf_size``
when one component does. With ``nr_splits = 2^b`` every ``b``-th binary level is kept, counted
from the bottom (a B-ary tree). ``prefix_len = 0`` disables the constraints (every label its
own component: plain balanced 2-means). ``L <= max_leaf_size`` gives one leaf.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from xmr._threads import resolve_n_jobs
from xmr._validation import check_int
from xmr.indexers.hkmeans import binary_depth, random_pairs
from xmr.indexers.trie import (
    ClusteringStringIndexer,
    binary_levels_kept,
    sorted_order,
    tree_from_flags,
)
from xmr.kernels.kmeans import weighted_split_level
from xmr.label_embedding import normalize
from xmr.params import MustLinkParams, store_params
from xmr.tree import LabelTree

MAX_PREFIX_LEN = 5  # the paper's must-link prefixes are at most 5 characters


def prefix_components(lcp: np.ndarray, lengths: np.ndarray, prefix_len: int) -> np.ndarray:
    """Bool (L,) over sorted labels: True where a new component (distinct
    ``label[:prefix_len]``) starts. Sorted neighbours share that key iff their common prefix
    covers both keys."""
    if prefix_len == 0:
        return np.ones(lcp.size, np.bool_)
    key = np.minimum(lengths, prefix_len)
    start = np.ones(lcp.size, np.bool_)
    start[1:] = lcp[1:] < np.maximum(key[1:], key[:-1])
    return start


_P = MustLinkParams  # the defaults, defined once


class MustLinkIndexer(ClusteringStringIndexer):
    """Balanced hierarchical 2-means over prefix components (see the module doc)."""

    Params = MustLinkParams

    def __init__(self, *, prefix_len: int = _P.prefix_len, nr_splits: int = _P.nr_splits,
                 max_leaf_size: int = _P.max_leaf_size, max_iter: int = _P.max_iter,
                 seed: int = 0, n_jobs: int = -1):
        store_params(self, locals())

    def _validate_own(self) -> None:
        check_int("prefix_len", self.prefix_len, minimum=0)
        if self.prefix_len > MAX_PREFIX_LEN:
            raise ValueError(f"prefix_len must be <= {MAX_PREFIX_LEN}, got {self.prefix_len}")

    def build(self, Z: sp.csr_matrix, *, labels: Sequence[str] | None = None) -> LabelTree:
        """The tree of ``labels`` (see `ClusteringStringIndexer._inputs`)."""
        Z, labels = self._inputs(Z, labels)
        L = len(labels)
        perm, lcp, lengths = sorted_order(labels)  # also refuses duplicated labels
        if L <= self.max_leaf_size:
            return LabelTree((sp.csc_matrix(np.ones((L, 1), np.float32)),))
        comp_start = prefix_components(lcp, lengths, self.prefix_len)
        comp_of = np.cumsum(comp_start) - 1  # component of each sorted position
        n_comp = int(comp_of[-1]) + 1
        sizes = np.bincount(comp_of, minlength=n_comp)
        member = sp.csr_matrix((np.ones(L, np.float32), (comp_of, perm)), shape=(n_comp, L))
        F = normalize(sp.csr_matrix(member @ Z)).astype(np.float32)
        F.sort_indices()
        args = (F.indptr.astype(np.int64), F.indices.astype(np.int64),
                F.data.astype(np.float64), F.shape[1], sizes.astype(np.float64))
        rng = np.random.default_rng(self.seed)
        n_workers = resolve_n_jobs(self.n_jobs)
        n_binary = binary_depth(L, self.max_leaf_size)
        cpos = np.arange(n_comp, dtype=np.int64)  # component at each component position
        bounds = np.array([0, n_comp], np.int64)
        comp_levels = []
        for _ in range(n_binary):
            cpos, cuts = weighted_split_level(*args, cpos, bounds,
                                              random_pairs(rng, np.diff(bounds)),
                                              self.max_iter, n_workers)
            bounds = np.union1d(bounds, cuts)
            flags = np.zeros(n_comp, np.bool_)
            flags[bounds[:-1]] = True
            comp_levels.append(flags)
        # expand to labels: components in the order cpos, each one's labels in sorted order
        comp_ptr = np.concatenate([[0], np.cumsum(sizes)])
        first = np.concatenate([[0], np.cumsum(sizes[cpos])[:-1]])  # label position of each
        label_pos = np.arange(L, dtype=np.int64) + np.repeat(comp_ptr[cpos] - first, sizes[cpos])
        levels = []
        for j in binary_levels_kept(n_binary, self.nr_splits):
            flags = np.zeros(L, np.bool_)
            flags[first[comp_levels[j - 1]]] = True
            levels.append(flags)
        return tree_from_flags(perm[label_pos], levels)
