"""The k-means split spread over threads inside one segment (`_split_one_parallel`, the top
levels of the tree) gives the serial split's result bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _toy import random_features

from xmr.kernels.kmeans import (
    _argsort_parallel,
    _radix_argsort,
    _split_one,
    _split_one_parallel,
    _stable_argsort,
    split_level,
)


def _args(Z: sp.csr_matrix) -> tuple:
    return Z.indptr.astype(np.int64), Z.indices.astype(np.int64), Z.data.astype(np.float64)


def _buffers(D: int) -> tuple:
    return (np.zeros(D), np.zeros(D), np.zeros(D, dtype=np.bool_), np.empty(D, dtype=np.int64))


def _with_ties(n: int, D: int, seed: int) -> sp.csr_matrix:
    """Random unit rows, most rows twice (equal scores: the stable order decides)."""
    m = (n + 1) // 2
    Z = random_features(m, D, density=0.3, seed=seed)
    return sp.csr_matrix(sp.vstack([Z, Z]))[np.random.default_rng(seed).permutation(2 * m)[:n]]


@pytest.mark.parametrize("n_workers", [1, 2, 3, 5, 8, 64])
def test_argsort_parallel_is_the_stable_sort(n_workers):
    rng = np.random.default_rng(n_workers)
    keys = rng.integers(0, 7, 50).astype(np.float64)  # many ties
    keys[[3, 17, 40]] = np.nan  # numpy puts NaN last
    got = _argsort_parallel(keys, n_workers)
    assert np.array_equal(got, np.argsort(keys, kind="mergesort"))


@pytest.mark.parametrize("n, D, seed", [(2, 5, 0), (3, 4, 1), (9, 6, 2), (40, 12, 3),
                                        (101, 30, 4), (300, 50, 5)])
@pytest.mark.parametrize("n_workers", [2, 3, 7])
def test_parallel_split_equals_the_serial_split(n, D, seed, n_workers):
    Z = _with_ties(n, D, seed) if n >= 4 else random_features(n, D, seed=seed)
    members = np.random.default_rng(seed).permutation(n).astype(np.int64)
    ones = np.ones(n)
    serial_bufs, par_bufs = _buffers(D), _buffers(D)
    for max_iter in (1, 2, 20):
        want = _split_one(*_args(Z), ones, members, 0, n - 1, max_iter, *serial_bufs)
        got = _split_one_parallel(*_args(Z), ones, members, 0, n - 1, max_iter, *par_bufs,
                                  n_workers, True)
        assert np.array_equal(got, want), max_iter
        # the shared buffers are left all zero, as the serial kernel leaves them
        assert not par_bufs[0].any() and not par_bufs[1].any() and not par_bufs[2].any()


def test_unsorted_rows_are_summed_in_full():
    Z = random_features(60, 20, density=0.4, seed=9)
    members = np.arange(60, dtype=np.int64)
    want = _split_one(*_args(Z), np.ones(60), members, 1, 2, 20, *_buffers(20))
    # the same matrix with each row's entries reversed: same rows, unsorted indices
    rev = Z.copy()
    for r in range(60):
        a, b = rev.indptr[r], rev.indptr[r + 1]
        rev.indices[a:b] = rev.indices[a:b][::-1].copy()
        rev.data[a:b] = rev.data[a:b][::-1].copy()
    got = _split_one_parallel(*_args(rev), np.ones(60), members, 1, 2, 20, *_buffers(20),
                              4, False)
    assert np.array_equal(got, want)
    # split_level finds the rows unsorted by itself
    perm, bounds = np.arange(60, dtype=np.int64), np.array([0, 60], dtype=np.int64)
    pairs = np.array([[1, 2]], dtype=np.int64)
    out, _ = split_level(*_args(rev), 20, perm, bounds, pairs, 20, 4, 0)
    assert np.array_equal(out, want)


@pytest.mark.parametrize("n_workers", [2, 4, 9])
@pytest.mark.parametrize("inner_min", [0, 50, 2048])
def test_split_level_few_segments_equals_one_worker(n_workers, inner_min):
    # fewer segments than workers: those of >= inner_min members are split one by one, each
    # by all workers (0: all three; 50: the last; 2048: none), the others dealt to workers
    Z = _with_ties(120, 25, 7)
    perm = np.random.default_rng(0).permutation(120).astype(np.int64)
    bounds = np.array([0, 2, 45, 120], dtype=np.int64)
    pairs = np.array([[0, 1], [5, 30], [70, 3]], dtype=np.int64)
    want = split_level(*_args(Z), 25, perm, bounds, pairs, 20, 1)
    got = split_level(*_args(Z), 25, perm, bounds, pairs, 20, n_workers, inner_min)
    assert np.array_equal(got[0], want[0])
    assert np.array_equal(got[1], want[1])


@pytest.mark.parametrize("n", [5, 3000, 20_000])
def test_radix_argsort_is_the_stable_sort(n):
    rng = np.random.default_rng(n)
    keys = np.round(rng.standard_normal(n), 2)  # many ties
    keys[rng.integers(0, n, 3)] = np.nan  # numpy: NaN last, in index order
    keys[rng.integers(0, n, 3)] = -0.0  # ties with 0.0
    keys[rng.integers(0, n, 3)] = 0.0
    keys[rng.integers(0, n, 2)] = np.inf
    keys[rng.integers(0, n, 2)] = -np.inf
    keys[rng.integers(0, n, 2)] = 5e-324  # subnormals
    keys[rng.integers(0, n, 2)] = -5e-324
    want = np.argsort(keys, kind="mergesort")
    assert np.array_equal(_radix_argsort(keys), want)
    assert np.array_equal(_stable_argsort(keys), want)
    assert np.array_equal(_argsort_parallel(keys, 3), want)
