"""Balanced hierarchical spherical 2-means (HierarchicalKMeans + the split_level kernel)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from _toy import leaf_of_label, random_features
from sklearn.preprocessing import normalize

from xmr.indexers import INDEXERS
from xmr.indexers.hkmeans import HierarchicalKMeans, binary_depth


@pytest.mark.parametrize("n_labels, max_leaf_size, depth", [
    (1000, 100, 4),  # log2(10) = 3.32 -> 4
    (1024, 16, 6),  # exactly 64 leaves
    (1025, 16, 7),  # one label too many for 64 leaves
    (5, 2, 2),  # log2(2.5) -> 2
    (3, 2, 1),
    (100, 100, 1),  # log2(1) = 0, but at least 1
    (10, 100, 1),
])
def test_binary_depth(n_labels, max_leaf_size, depth):
    assert binary_depth(n_labels, max_leaf_size) == depth


@pytest.mark.parametrize("n_labels, max_leaf_size, nr_splits", [
    (37, 5, 2), (64, 8, 4), (100, 7, 16), (33, 2, 4),
])
def test_partition_is_balanced(n_labels, max_leaf_size, nr_splits):
    Z = random_features(n_labels, 30, seed=n_labels)
    tree = HierarchicalKMeans(nr_splits=nr_splits, max_leaf_size=max_leaf_size, seed=1).build(Z)
    depth = binary_depth(n_labels, max_leaf_size)
    C = sp.csr_matrix(tree.chain[-1])
    assert C.shape == (n_labels, 2 ** depth) == (tree.n_labels, tree.level_sizes[-2])
    # every label in exactly one leaf
    assert np.array_equal(np.diff(C.indptr), np.ones(n_labels))
    sizes = np.bincount(C.indices, minlength=C.shape[1])
    assert sizes.max() - sizes.min() <= 1
    assert sizes.max() <= max_leaf_size
    assert sizes.min() >= 1
    # upper levels: B-ary grouping of consecutive clusters
    for C_up in tree.chain[:-1]:
        assert np.diff(sp.csc_matrix(C_up).indptr).max() <= nr_splits


def test_zero_embedding_rows_still_partitioned():
    Z = random_features(20, 10, seed=3).tolil()
    Z[[0, 5, 6], :] = 0  # e.g. labels without a positive instance in PIFA
    tree = HierarchicalKMeans(nr_splits=2, max_leaf_size=5, seed=0).build(sp.csr_matrix(Z))
    sizes = np.bincount(leaf_of_label(tree), minlength=4)
    assert sizes.tolist() == [5, 5, 5, 5]


def test_deterministic_for_a_seed_and_seed_matters():
    Z = random_features(64, 30, seed=7)
    build = lambda seed: leaf_of_label(  # noqa: E731
        HierarchicalKMeans(nr_splits=4, max_leaf_size=4, seed=seed).build(Z))
    assert np.array_equal(build(0), build(0))
    assert not np.array_equal(build(0), build(1))


def test_thread_count_does_not_change_the_tree():
    Z = random_features(80, 30, seed=8)
    trees = [HierarchicalKMeans(nr_splits=2, max_leaf_size=5, seed=2, n_jobs=n).build(Z)
             for n in (1, 2)]
    assert np.array_equal(leaf_of_label(trees[0]), leaf_of_label(trees[1]))


@pytest.mark.parametrize("max_leaf_size", [10, 11, 1000])
def test_max_leaf_size_at_least_n_labels_gives_single_leaf(max_leaf_size):
    Z = random_features(10, 8, seed=0)
    tree = HierarchicalKMeans(max_leaf_size=max_leaf_size).build(Z)
    assert tree.level_sizes == [1, 10]
    assert tree.depth == 1


def _four_groups(m: int, seed: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """4 groups of m labels, shuffled ids; each group's labels use only its own 4 features."""
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(4), m)[rng.permutation(4 * m)]
    rows = np.repeat(np.arange(4 * m), 4)
    cols = (group[:, None] * 4 + np.arange(4)).ravel()
    vals = 1.0 + 0.3 * rng.random(rows.size)
    Z = normalize(sp.csr_matrix((vals, (rows, cols)), shape=(4 * m, 16)))
    return Z.astype(np.float32), group


@pytest.mark.parametrize("seed", range(6))
def test_well_separated_groups_recovered(seed):
    # An odd group size keeps balanced 2-means out of its one exact tie (two centres that
    # each hold half of a group), so every initialisation must end in the clean split.
    Z, group = _four_groups(5, seed)
    tree = HierarchicalKMeans(nr_splits=2, max_leaf_size=5, seed=seed).build(Z)
    leaf = leaf_of_label(tree)
    assert tree.level_sizes == [1, 2, 4, 20]
    for k in range(4):
        assert len(set(group[leaf == k].tolist())) == 1, (k, group[leaf == k])


@pytest.mark.parametrize("nr_splits", [3, 6, 12])
def test_nr_splits_not_power_of_two(nr_splits):
    with pytest.raises(ValueError, match=f"nr_splits must be a power of two >= 2, got "
                                         f"{nr_splits}"):
        HierarchicalKMeans(nr_splits=nr_splits).build(random_features(10, 5))


@pytest.mark.parametrize("nr_splits", [1, 0, -2])
def test_nr_splits_below_two(nr_splits):
    with pytest.raises(ValueError, match=f"nr_splits must be >= 2, got {nr_splits}"):
        HierarchicalKMeans(nr_splits=nr_splits).build(random_features(10, 5))


def test_max_leaf_size_below_two():
    with pytest.raises(ValueError, match="max_leaf_size must be >= 2, got 1"):
        HierarchicalKMeans(max_leaf_size=1).build(random_features(10, 5))


def test_empty_label_set():
    with pytest.raises(ValueError, match="empty label set"):
        HierarchicalKMeans().build(sp.csr_matrix((0, 5), dtype=np.float32))


def test_registered_by_name():
    assert INDEXERS["hkmeans"] is HierarchicalKMeans
