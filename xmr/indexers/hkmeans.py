"""Balanced hierarchical spherical 2-means (PECOS's ``hierarchicalkmeans`` indexer)."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from xmr._estimator import ParamsMixin
from xmr._threads import resolve_n_jobs
from xmr._validation import check_int, check_n_features, check_power_of_two, check_seed
from xmr.kernels.kmeans import split_level
from xmr.params import KMeansParams, store_params
from xmr.tree import LabelTree


def binary_depth(n_labels: int, max_leaf_size: int) -> int:
    """⌈log₂(L / max_leaf_size)⌉, at least 1 (PECOS's ``infer_binary_tree_depth``)."""
    return max(1, math.ceil(math.log2(n_labels / max_leaf_size)))


def random_pairs(rng: np.random.Generator, sizes: np.ndarray) -> np.ndarray:
    """Two distinct random member positions per segment: the initial 2-means centres."""
    first = (rng.random(sizes.size) * sizes).astype(np.int64)
    second = (rng.random(sizes.size) * np.maximum(sizes - 1, 1)).astype(np.int64)
    second = np.where(second >= first, second + 1, second)
    second = np.minimum(second, np.maximum(sizes - 1, 0))
    return np.stack([first, second], axis=1)


def check_kmeans_params(ix) -> None:
    """The ranges of :class:`~xmr.params.KMeansParams` and the seed (every 2-means indexer)."""
    check_power_of_two("nr_splits", ix.nr_splits)
    check_int("max_leaf_size", ix.max_leaf_size, minimum=2)
    check_int("max_iter", ix.max_iter, minimum=1)
    check_seed("seed", ix.seed)


_P = KMeansParams  # the defaults, defined once


class HierarchicalKMeans(ParamsMixin):
    """Recursive, exactly balanced spherical 2-means to binary depth
    ⌈log₂(L / max_leaf_size)⌉, then every ``nr_splits`` sibling clusters are grouped into one
    node up to the root (a B-ary tree, B = ``nr_splits``, a power of two).

    Each split: two distinct random members as centres; score x·(c₁ − c₂); sort; the first
    ⌈n/2⌉ go left; centres = normalised sums; at most ``max_iter`` rounds or until stable.
    Parameters: :class:`~xmr.params.KMeansParams`, ``seed`` (initial centres) and ``n_jobs``
    (threads; -1 = all cores).
    """

    Params = KMeansParams
    reads_embedding = True  # builds from the label embedding Z

    def __init__(self, *, nr_splits: int = _P.nr_splits, max_leaf_size: int = _P.max_leaf_size,
                 max_iter: int = _P.max_iter, seed: int = 0, n_jobs: int = -1):
        store_params(self, locals())

    def validate(self) -> None:
        check_kmeans_params(self)

    def build(self, Z: sp.csr_matrix, *, labels=None) -> LabelTree:
        """``Z``: (n_labels, D) label embedding, CSR float32; ``labels`` (the label strings)
        are not used (every indexer takes them, see :mod:`xmr.indexers`)."""
        self.validate()
        Z = sp.csr_matrix(Z, dtype=np.float32)
        Z.sort_indices()
        L = Z.shape[0]
        if L < 1:
            raise ValueError("cannot index an empty label set")
        if self.max_leaf_size >= L:
            return LabelTree.from_pecos_chain([sp.csc_matrix(np.ones((L, 1), np.float32))])
        depth = binary_depth(L, self.max_leaf_size)
        rng = np.random.default_rng(self.seed)
        perm = np.arange(L, dtype=np.int64)
        bounds = np.array([0, L], dtype=np.int64)
        n_workers = resolve_n_jobs(self.n_jobs)
        # the kernel's centre buffers have a float64 per column: a bare SystemError inside it
        check_n_features(Z.shape[1], "Z")
        # the kernel's dtypes, converted once (not once per level: 16 bytes per entry of Z)
        Z_arrays = (Z.indptr.astype(np.int64), Z.indices.astype(np.int64),
                    Z.data.astype(np.float64), Z.shape[1])
        for _ in range(depth):
            pairs = random_pairs(rng, np.diff(bounds))
            perm, bounds = split_level(*Z_arrays, perm, bounds, pairs, self.max_iter,
                                       n_workers)
        codes = np.empty(L, dtype=np.int64)
        for k in range(bounds.size - 1):
            codes[perm[bounds[k]:bounds[k + 1]]] = k
        return LabelTree.from_leaf_codes(codes, 1 << depth, self.nr_splits)
