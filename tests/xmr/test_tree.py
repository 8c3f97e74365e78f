"""LabelTree: validation, PECOS grouping, level targets, chain/disk round trips."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from xmr.tree import LabelTree


def _C(parent_of: list[int], n_parents: int) -> sp.csc_matrix:
    """Cluster matrix: row i = node i of the lower level, column = its parent."""
    n = len(parent_of)
    return sp.csc_matrix((np.ones(n, np.float32), (np.arange(n), parent_of)),
                         shape=(n, n_parents))


def _toy_tree() -> LabelTree:
    # root -> {A, B}; A -> labels {0, 1}; B -> labels {2, 3, 4}
    return LabelTree.from_pecos_chain([_C([0, 0], 1), _C([0, 0, 1, 1, 1], 2)])


def test_toy_tree_properties():
    tree = _toy_tree()
    assert tree.depth == 2
    assert tree.n_labels == 5
    assert tree.level_sizes == [1, 2, 5]
    assert all(C.format == "csc" and C.dtype == np.float32 for C in tree.chain)


def test_first_matrix_must_have_one_column():
    with pytest.raises(ValueError, match=r"chain\[0\] has 2 columns but level 0 has 1 nodes"):
        LabelTree.from_pecos_chain([_C([0, 1], 2), _C([0, 1], 2)])


def test_shape_chain_mismatch():
    # chain[0]: 2 nodes at level 1, but chain[1] expects 3 parents
    with pytest.raises(ValueError, match=r"chain\[1\] has 3 columns but level 1 has 2 nodes"):
        LabelTree.from_pecos_chain([_C([0, 0], 1), _C([0, 1, 2], 3)])


def test_node_with_two_parents():
    C1 = sp.csc_matrix(np.array([[1, 0], [1, 1], [0, 1]], dtype=np.float32))  # row 1: 2 parents
    with pytest.raises(ValueError, match=r"chain\[1\] row 1 has 2 parents"):
        LabelTree.from_pecos_chain([_C([0, 0], 1), C1])


def test_node_without_parent():
    C1 = sp.csc_matrix(np.array([[1, 0], [0, 0], [0, 1]], dtype=np.float32))
    with pytest.raises(ValueError, match=r"chain\[1\] row 1 has 0 parents"):
        LabelTree.from_pecos_chain([_C([0, 0], 1), C1])


def test_childless_node():
    # level-1 node 1 has no label under it
    with pytest.raises(ValueError, match=r"chain\[1\] has a node at level 1 with no child"):
        LabelTree.from_pecos_chain([_C([0, 0], 1), _C([0, 0, 0], 2)])


def test_empty_chain_and_dense_matrix_refused():
    with pytest.raises(ValueError, match="at least one cluster matrix"):
        LabelTree(())
    with pytest.raises(TypeError, match=r"chain\[0\] must be a scipy.sparse matrix"):
        LabelTree((np.ones((2, 1)),))


@pytest.mark.parametrize("n_leaves, nr_splits, sizes", [
    (2 ** 8, 16, [1, 16, 256]),  # 256 -> 16 -> root
    (2 ** 5, 16, [1, 2, 32]),  # 32 -> 2 -> root
    (2, 16, [1, 2]),  # 2 leaves hang off the root
    (16, 16, [1, 16]),  # exactly B leaves: one level
    (2 ** 6, 2, [1, 2, 4, 8, 16, 32, 64]),  # binary tree
    (2 ** 7, 4, [1, 2, 8, 32, 128]),  # 128 -> 32 -> 8 -> 2 -> root
])
def test_from_leaf_codes_pecos_grouping(n_leaves, nr_splits, sizes):
    L = 3 * n_leaves
    codes = np.arange(L) % n_leaves  # 3 labels per leaf
    tree = LabelTree.from_leaf_codes(codes, n_leaves, nr_splits)
    assert tree.level_sizes == sizes + [L]
    # labels hang off their code, and consecutive clusters are grouped B at a time
    assert np.array_equal(sp.csr_matrix(tree.chain[-1]).indices, codes)
    for C in tree.chain[1:-1]:
        parents = sp.csr_matrix(C).indices
        assert np.array_equal(parents, np.arange(C.shape[0]) // nr_splits)


def test_from_leaf_codes_single_leaf():
    tree = LabelTree.from_leaf_codes(np.zeros(5, np.int64), 1, 16)
    assert tree.level_sizes == [1, 5]


def test_level_targets_toy():
    tree = _toy_tree()
    # rows: {0}, {2, 4}, {1, 3}, {}
    Y = sp.csr_matrix(np.array([[1, 0, 0, 0, 0], [0, 0, 1, 0, 1], [0, 1, 0, 1, 0],
                                [0, 0, 0, 0, 0]], dtype=np.float32))
    targets = tree.level_targets(Y)
    assert len(targets) == 2
    # level 1 = {A, B}: row 1 has two labels under B -> still 1 (0/1, not a count)
    assert targets[0].toarray().tolist() == [[1, 0], [0, 1], [1, 1], [0, 0]]
    assert np.array_equal(targets[1].toarray(), Y.toarray())
    for T in targets:
        assert T.format == "csc" and T.dtype == np.float32 and T.has_sorted_indices


def test_level_targets_three_levels():
    # root -> {0, 1}; 0 -> {a, b}, 1 -> {c}; a -> {0}, b -> {1, 2}, c -> {3}
    tree = LabelTree.from_pecos_chain([_C([0, 0], 1), _C([0, 0, 1], 2), _C([0, 1, 1, 2], 3)])
    Y = sp.csr_matrix(np.array([[0, 0, 1, 0], [1, 0, 0, 1]], dtype=np.float32))
    t0, t1, t2 = tree.level_targets(Y)
    assert t0.toarray().tolist() == [[1, 0], [1, 1]]
    assert t1.toarray().tolist() == [[0, 1, 0], [1, 0, 1]]
    assert np.array_equal(t2.toarray(), Y.toarray())


def test_pecos_chain_round_trip():
    tree = _toy_tree()
    chain = tree.to_pecos_chain()
    assert isinstance(chain, list) and len(chain) == 2
    again = LabelTree.from_pecos_chain(chain)
    for a, b in zip(tree.chain, again.chain, strict=True):
        assert a.shape == b.shape and (a != b).nnz == 0
    # to_pecos_chain hands out copies: editing them leaves the tree intact
    chain[0].data[:] = 7.0
    assert np.all(tree.chain[0].data == 1.0)


def test_from_pecos_chain_normalises_values_and_format():
    C0 = sp.csr_matrix(np.array([[3.0], [2.0]]))  # csr, float64, non-unit values
    C1 = sp.coo_matrix(_C([0, 1, 1], 2))
    tree = LabelTree.from_pecos_chain([C0, C1])
    for C in tree.chain:
        assert C.format == "csc" and C.dtype == np.float32
        assert np.all(C.data == 1.0)


def test_from_pecos_chain_does_not_modify_its_input():
    C1 = _C([0, 1, 1], 2)
    C1.data[:] = 2.0  # e.g. weighted cluster memberships
    LabelTree.from_pecos_chain([_C([0, 0], 1), C1])
    assert np.all(C1.data == 2.0)


def test_from_pecos_chain_ignores_explicit_zeros():
    # row 2 stores an explicit 0 for parent 0: its only parent is 1
    C1 = sp.csc_matrix((np.array([1, 1, 0, 1], np.float32), ([0, 1, 2, 2], [0, 1, 0, 1])),
                       shape=(3, 2))
    tree = LabelTree.from_pecos_chain([_C([0, 0], 1), C1])
    assert sp.csr_matrix(tree.chain[1]).indices.tolist() == [0, 1, 1]


def test_save_load(tmp_path):
    tree = LabelTree.from_leaf_codes(np.arange(40) % 8, 8, 2)
    tree.save(tmp_path / "t")
    assert tree.depth == 4  # 8 leaves, B = 2: [1, 2, 4, 8, 40]
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == [f"C{t}.npz" for t in range(4)]
    back = LabelTree.load(tmp_path / "t", tree.depth)
    assert back.level_sizes == tree.level_sizes
    for a, b in zip(tree.chain, back.chain, strict=True):
        assert a.shape == b.shape and (a != b).nnz == 0
