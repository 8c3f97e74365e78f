"""Hierarchical 2-means with must-link constraints tightened level by level (Paper 2, "HC +
must-link"), as qp2q builds it (``examples/qp2q/models/indices.py``: ``build_prefix_mlc_mat``,
``hierarchical_kmeans_w_mlc``).

Built as every indexer: ``build(Z, *, labels) -> LabelTree`` (see :mod:`xmr.indexers.trie`).

The tree is grown one binary level at a time. At binary level ``l`` (0-based, the root's split
is level 0) and ``l < prefix_len``, the labels sharing their first ``l + 1`` characters (their
whole text when shorter) form a **component** that this level's split must not cut: level 0
groups by the first character, level 1 by the first two, ... down to ``prefix_len`` (the
paper: 5); from level ``prefix_len`` on every label is its own component (plain balanced
2-means). Each component is one point: its feature is the l2-normalised mean of its labels'
rows of ``Z`` and its weight is its size; a segment is split by spherical 2-means balanced
**by weight** (score x·(c₁ − c₂), sort, cut where the running weight reaches half of the
segment's total, both sides non-empty; at most ``max_iter`` rounds;
`xmr.kernels.kmeans.weighted_split_level`).

As in qp2q only segments of more than ``max_leaf_size`` labels are split; smaller ones are
carried down unchanged (single-child levels), and growth stops when no segment is larger than
``max_leaf_size``. One difference, on purpose: qp2q freezes a too-large segment that is a
single component at its level as a leaf, so a leaf can reach the size of a whole 5-character
group (on the AOL subset up to 8× ``max_leaf_size``); here it is carried down one level and
split under the next, tighter constraint (or by plain 2-means below ``prefix_len``), so **no
leaf exceeds** ``max_leaf_size``. qp2q's balance (its ``min_size``, half the number of
components, compared with component sizes) is replaced by the weight-balanced cut above.
With ``nr_splits = 2^b`` every ``b``-th binary level is kept, counted from the bottom (a
B-ary tree). ``prefix_len = 0`` disables the constraints. ``L <= max_leaf_size`` gives one
leaf.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from xmr._threads import resolve_n_jobs
from xmr._validation import check_int
from xmr.indexers.hkmeans import random_pairs
from xmr.indexers.hybrid import _ranges
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
        Zs = sp.csr_matrix(Z[perm])  # rows in sorted order: sorted position = row
        rng = np.random.default_rng(self.seed)
        n_workers = resolve_n_jobs(self.n_jobs)
        order = np.arange(L, dtype=np.int64)  # sorted position of the label at each position
        bounds = np.array([0, L], np.int64)  # segment starts (label positions) and L
        levels = []
        while True:
            sizes = np.diff(bounds)
            if sizes.max() <= self.max_leaf_size:
                break
            level = len(levels)
            if level < self.prefix_len:  # components: same first level + 1 characters
                comp_of = np.cumsum(prefix_components(lcp, lengths, level + 1)) - 1
                comp = comp_of[order]
            else:  # below the constraints every label is its own component
                comp = np.arange(L, dtype=np.int64)
            order, bounds = self._split_level(Zs, order, bounds, comp, rng, n_workers)
            flags = np.zeros(L, np.bool_)
            flags[bounds[:-1]] = True
            levels.append(flags)
        kept = [levels[j - 1] for j in binary_levels_kept(len(levels), self.nr_splits)]
        return tree_from_flags(perm[order], kept)

    def _split_level(self, Zs, order, bounds, comp, rng, n_workers):
        """One binary level: every segment of more than ``max_leaf_size`` labels and at
        least two components is split in two by weighted 2-means over its components.
        Components are runs of equal ``comp`` along the positions (labels of a component are
        contiguous: a component of this level lies inside one of the level above, and splits
        move whole components). Returns the new (order, bounds)."""
        L = order.size
        run_start = np.ones(L, np.bool_)
        run_start[1:] = comp[1:] != comp[:-1]
        run_start[bounds[:-1]] = True
        starts = np.flatnonzero(run_start)  # label position of each run (component)
        run_sizes = np.diff(np.append(starts, L))
        run_of_bound = np.searchsorted(starts, bounds)  # run index of each segment bound
        seg_runs = np.diff(run_of_bound)
        big = np.flatnonzero((np.diff(bounds) > self.max_leaf_size) & (seg_runs >= 2))
        if big.size == 0:  # only single-component segments: carried down this level
            return order, bounds
        # features of the runs of the big segments, in run order
        a, b = run_of_bound[big], run_of_bound[big + 1]
        runs = _ranges(a, b)
        run_id = np.repeat(np.arange(runs.size), run_sizes[runs])
        member_pos = _ranges(starts[runs], starts[runs] + run_sizes[runs])
        member = sp.csr_matrix((np.ones(member_pos.size, np.float32),
                                (run_id, order[member_pos])), shape=(runs.size, L))
        F = normalize(sp.csr_matrix(member @ Zs)).astype(np.float32)
        F.sort_indices()
        cbounds = np.concatenate([[0], np.cumsum(b - a)]).astype(np.int64)
        cperm, cuts = weighted_split_level(
            F.indptr.astype(np.int64), F.indices.astype(np.int64), F.data.astype(np.float64),
            F.shape[1], run_sizes[runs].astype(np.float64), np.arange(runs.size, dtype=np.int64),
            cbounds, random_pairs(rng, np.diff(cbounds)), self.max_iter, n_workers)
        # new run order: the big segments' runs permuted, the others in place
        run_order = np.arange(starts.size, dtype=np.int64)
        run_order[runs] = runs[cperm]
        new_starts = starts[run_order]
        new_sizes = run_sizes[run_order]
        new_order = order[_ranges(new_starts, new_starts + new_sizes)]
        run_pos = np.concatenate([[0], np.cumsum(new_sizes)])  # label position of each run
        new_cuts = run_pos[a + (cuts - cbounds[:-1])]
        return new_order, np.union1d(bounds, new_cuts)
