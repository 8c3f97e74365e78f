"""Trie–tree hybrid indexer (Paper 2): trie levels down to a small character depth, then
balanced hierarchical spherical 2-means under each trie node.

Protocol: ``build(Z, *, labels) -> LabelTree`` (see :mod:`xmr.indexers.trie`).

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
from xmr._validation import check_int, check_power_of_two, check_seed
from xmr.indexers.trie import (
    binary_levels_kept,
    check_embedding,
    check_label_strings,
    sorted_order,
    tree_from_flags,
)
from xmr.kernels.kmeans import split_level
from xmr.tree import LabelTree


def random_pairs(rng: np.random.Generator, sizes: np.ndarray) -> np.ndarray:
    """Two distinct random member positions per segment (as `HierarchicalKMeans`)."""
    first = (rng.random(sizes.size) * sizes).astype(np.int64)
    second = (rng.random(sizes.size) * np.maximum(sizes - 1, 1)).astype(np.int64)
    second = np.where(second >= first, second + 1, second)
    second = np.minimum(second, np.maximum(sizes - 1, 0))
    return np.stack([first, second], axis=1)


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(starts[j], ends[j])`` over j."""
    lengths = ends - starts
    total = int(lengths.sum())
    shift = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + shift


class TrieHybridIndexer:
    """Trie to ``trie_depth`` characters, then balanced spherical 2-means below each trie node
    (see the module doc)."""

    needs_labels = True  # build(Z, *, labels): see xmr.indexers.trie

    def __init__(self, *, trie_depth: int = 1, nr_splits: int = 16, max_leaf_size: int = 100,
                 max_iter: int = 20, seed: int = 0, n_jobs: int = -1):
        self.trie_depth = trie_depth  # character depth of the trie part (the paper: 1, 2, 3)
        self.nr_splits = nr_splits  # out-degree B of the k-means part (power of two >= 2)
        self.max_leaf_size = max_leaf_size  # labels per leaf cluster at most (about)
        self.max_iter = max_iter  # 2-means rounds per split (PECOS: 20)
        self.seed = seed  # seeds the initial centres
        self.n_jobs = n_jobs  # threads; -1 = all cores

    def validate(self) -> None:
        check_int("trie_depth", self.trie_depth, minimum=1)
        check_power_of_two("nr_splits", self.nr_splits)
        check_int("max_leaf_size", self.max_leaf_size, minimum=2)
        check_int("max_iter", self.max_iter, minimum=1)
        check_seed("seed", self.seed)

    def build(self, Z: sp.csr_matrix, *, labels: Sequence[str]) -> LabelTree:
        """``Z``: (n_labels, D) label embedding (CSR float32, rows l2-normalised); ``labels``:
        the distinct label strings, label ``i`` = ``labels[i]`` = row ``i`` of ``Z``."""
        self.validate()
        labels = check_label_strings(labels)
        Z = check_embedding(Z, len(labels))
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

