"""String indexers of Paper 2: trie, trie–tree hybrid, must-link (+ their kernels)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from xmr import XRLinear
from xmr.indexers import INDEXERS, MustLinkIndexer, TrieHybridIndexer, TrieIndexer
from xmr.indexers.trie import binary_levels_kept, encode_strings
from xmr.kernels.kmeans import weighted_split_level
from xmr.kernels.range_topk import argmax_tree, range_topk
from xmr.kernels.trie import sorted_lcp

PAPER = ["a", "ab", "abc", "abd", "abfgh", "abfgi", "bcde", "bcdf"]


def node_paths(tree) -> np.ndarray:
    """(depth - 1, L): row j = the node of every label at level j + 1 (last row = its leaf)."""
    parents = [sp.csr_matrix(C).indices for C in tree.chain]  # row -> parent column
    paths = [parents[-1]]
    for t in range(len(parents) - 2, 0, -1):
        paths.insert(0, parents[t][paths[0]])
    return np.array(paths)


def leaf_sets(tree, labels) -> list[set[str]]:
    leaf = sp.csr_matrix(tree.chain[-1]).indices
    return [{labels[i] for i in np.flatnonzero(leaf == c)} for c in range(tree.chain[-1].shape[1])]


def reference_trie_keys(labels: list[str], t: int) -> list:
    """Pure-Python trie: a label's node at depth t is its t-prefix, or, past its end, a node of
    its own (end-of-string child / padding)."""
    return [s[:t] if len(s) >= t else ("$", s) for s in labels]


def random_strings(rng, n, alphabet="abc d", max_len=8) -> list[str]:
    out = set()
    while len(out) < n:
        out.add("".join(rng.choice(list(alphabet), rng.integers(0, max_len + 1))))
    return list(out)


def check_tree(tree, n_labels):
    """Every label in exactly one leaf; every node one parent; every non-leaf a child."""
    assert tree.n_labels == n_labels
    C = sp.csr_matrix(tree.chain[-1])
    assert np.array_equal(np.diff(C.indptr), np.ones(n_labels))
    for M in tree.chain:  # LabelTree validates this too; restate it here
        assert (np.diff(sp.csr_matrix(M).indptr) == 1).all()
        assert (np.diff(sp.csc_matrix(M).indptr) >= 1).all()


# ------------------------------------------------------------------ trie


def test_trie_paper_example_depth3_by_hand():
    tree = TrieIndexer(depth=3).build(labels=PAPER)
    # level 1: a, b | level 2: a$ (label "a"), ab, bc | level 3: (a$ padded), ab$ (label
    # "ab"), abc, abd, abf, bcd | leaves: abfgh+abfgi collapse into abf, bcde+bcdf into bcd
    assert tree.level_sizes == [1, 2, 3, 6, 8]
    assert tree.chain[0].toarray().tolist() == [[1], [1]]
    assert tree.chain[1].toarray().tolist() == [[1, 0], [1, 0], [0, 1]]
    assert tree.chain[2].toarray().tolist() == [
        [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert sp.csr_matrix(tree.chain[3]).indices.tolist() == [0, 1, 2, 3, 4, 4, 5, 5]


def test_trie_paper_example_depth16():
    tree = TrieIndexer(depth=16).build(labels=PAPER)
    # depth 4: a$··, ab$·, abc·, abd·, abfg, bcde, bcdf; from depth 5 every label is alone
    assert tree.level_sizes == [1, 2, 3, 6, 7] + [8] * 12 + [8]
    assert tree.depth == 17
    for C in tree.chain[5:]:  # single-child padding below depth 5 (and the labels)
        assert (C.toarray() == np.eye(8)).all()


def test_trie_labels_in_any_order_keep_their_ids():
    rng = np.random.default_rng(0)
    order = rng.permutation(len(PAPER))
    shuffled = [PAPER[i] for i in order]
    a = TrieIndexer(depth=3).build(labels=PAPER)
    b = TrieIndexer(depth=3).build(labels=shuffled)
    assert a.level_sizes == b.level_sizes
    leaf_a = sp.csr_matrix(a.chain[-1]).indices
    leaf_b = sp.csr_matrix(b.chain[-1]).indices
    assert np.array_equal(leaf_b, leaf_a[order])


@pytest.mark.parametrize("depth", [1, 2, 4, 9])
@pytest.mark.parametrize("seed", [0, 1])
def test_trie_random_matches_reference(depth, seed):
    rng = np.random.default_rng(seed)
    labels = random_strings(rng, 300)
    tree = TrieIndexer(depth=depth).build(labels=labels)
    check_tree(tree, len(labels))
    assert tree.depth == depth + 1
    paths = node_paths(tree)
    rank = np.argsort(np.argsort(labels, kind="stable"))  # sorted position of each label
    for t in range(1, depth + 1):
        keys = reference_trie_keys(labels, t)
        nodes = paths[t - 1]
        pairs = set(zip(keys, nodes.tolist()))
        assert len(pairs) == len(set(keys)) == len(set(nodes.tolist())) == tree.level_sizes[t]
        by_rank = nodes[np.argsort(rank)]
        assert (np.diff(by_rank) >= 0).all()  # nodes numbered in sorted order


def test_trie_bad_and_odd_input():
    with pytest.raises(ValueError, match="distinct"):
        TrieIndexer().build(labels=["ab", "a", "ab"])
    with pytest.raises(ValueError, match="empty"):
        TrieIndexer().build(labels=[])
    with pytest.raises(TypeError, match="wrap a single label"):
        TrieIndexer().build(labels="abc")
    with pytest.raises(TypeError, match=r"labels\[1\] must be a str"):
        TrieIndexer().build(labels=["a", 3])
    with pytest.raises(ValueError, match="depth must be >= 1"):
        TrieIndexer(depth=0).build(labels=["a"])
    with pytest.raises(ValueError, match="rows"):
        TrieIndexer().build(sp.csr_matrix((3, 2), dtype=np.float32), labels=["a", "b"])
    # empty string, non-ASCII, one label, labels that are prefixes of each other
    labels = ["", "é", "éa", "日本", "日本語", "\U0010ffff", "a\U0010ffff"]
    tree = TrieIndexer(depth=2).build(labels=labels)
    check_tree(tree, len(labels))
    # "" alone; "é" (ends at an inner node) and "éa"; "日本" and "日本語" collapse at depth 2
    assert sorted(map(sorted, leaf_sets(tree, labels))) == sorted(map(sorted, [
        {""}, {"é"}, {"éa"}, {"日本", "日本語"}, {"\U0010ffff"}, {"a\U0010ffff"}]))
    assert TrieIndexer(depth=3).build(labels=["x"]).level_sizes == [1, 1, 1, 1, 1]


def test_sorted_lcp_kernel():
    lcp, bad = sorted_lcp(*encode_strings(["a", "ab", "abc", "abd", "b"]))
    assert lcp.tolist() == [0, 1, 2, 2, 0] and bad == -1
    assert sorted_lcp(*encode_strings(["b", "a"]))[1] == 1
    assert sorted_lcp(*encode_strings(["ab", "a"]))[1] == 1
    assert sorted_lcp(*encode_strings(["a", "a"]))[1] == 1


# ------------------------------------------------------------------ hybrid / must-link


def toy_embedding(labels: list[str], seed: int = 0) -> sp.csr_matrix:
    """Char 1-2-gram counts of the labels, l2-normalised (a stand-in label embedding)."""
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, s in enumerate(labels):
        for n in (1, 2):
            for p in range(len(s) - n + 1):
                rows.append(i)
                cols.append(vocab.setdefault(s[p:p + n], len(vocab)))
        rows.append(i)  # one label-specific feature: no empty rows
        cols.append(vocab.setdefault(f"#{i}", len(vocab)))
    Z = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(labels), len(vocab)))
    return normalize(Z).astype(np.float32)


def test_hybrid_paper_example():
    Z = toy_embedding(PAPER)
    tree = TrieHybridIndexer(trie_depth=1, nr_splits=2, max_leaf_size=2).build(Z, labels=PAPER)
    # node "a" (6 labels) gets ⌈log2(6/2)⌉ = 2 binary splits: 3+3, then 2+1 and 2+1;
    # node "b" (2 labels) none: padded with single-child levels
    assert tree.level_sizes == [1, 2, 3, 5, 8]
    check_tree(tree, 8)
    leaves = leaf_sets(tree, PAPER)
    assert {"bcde", "bcdf"} in leaves
    assert sorted(len(s) for s in leaves) == [1, 1, 2, 2, 2]
    paths = node_paths(tree)
    assert set(paths[0][:6].tolist()) == {0} and set(paths[0][6:].tolist()) == {1}
    # depth 2 is the trie at depth 2 (a$, ab, bc): no k-means needed with max_leaf_size 8
    tree2 = TrieHybridIndexer(trie_depth=2, max_leaf_size=8).build(Z, labels=PAPER)
    assert tree2.level_sizes == [1, 2, 3, 8]


@pytest.mark.parametrize("trie_depth, nr_splits, max_leaf_size", [
    (1, 2, 10), (2, 2, 5), (3, 4, 4), (1, 16, 3)])
def test_hybrid_random(trie_depth, nr_splits, max_leaf_size):
    rng = np.random.default_rng(trie_depth)
    labels = random_strings(rng, 400, alphabet="abcde fg", max_len=7)
    tree = TrieHybridIndexer(trie_depth=trie_depth, nr_splits=nr_splits,
                             max_leaf_size=max_leaf_size, n_jobs=1).build(
        toy_embedding(labels), labels=labels)
    check_tree(tree, len(labels))
    paths = node_paths(tree)
    trie = TrieIndexer(depth=trie_depth).build(labels=labels)
    assert tree.level_sizes[:trie_depth + 1] == trie.level_sizes[:trie_depth + 1]
    assert np.array_equal(paths[:trie_depth], node_paths(trie)[:trie_depth])
    sizes = np.bincount(paths[-1])
    # each trie node is split ⌈log2(n/M)⌉ times, balanced: leaves hold at most M labels
    assert sizes.max() <= max_leaf_size
    for C in tree.chain[trie_depth:-1]:
        assert np.diff(sp.csc_matrix(C).indptr).max() <= nr_splits


def test_hybrid_deterministic_and_bad_input():
    Z = toy_embedding(PAPER)
    a = TrieHybridIndexer(trie_depth=1, max_leaf_size=2, seed=3).build(Z, labels=PAPER)
    b = TrieHybridIndexer(trie_depth=1, max_leaf_size=2, seed=3).build(Z, labels=PAPER)
    assert all((x != y).nnz == 0 for x, y in zip(a.chain, b.chain))
    with pytest.raises(TypeError, match="label embedding"):
        TrieHybridIndexer().build(None, labels=PAPER)
    with pytest.raises(ValueError, match="7 rows but there are 8"):
        TrieHybridIndexer().build(Z[:7], labels=PAPER)
    with pytest.raises(ValueError, match="trie_depth must be >= 1"):
        TrieHybridIndexer(trie_depth=0).build(Z, labels=PAPER)
    with pytest.raises(ValueError, match="power of two"):
        TrieHybridIndexer(nr_splits=3).build(Z, labels=PAPER)


def test_mustlink_paper_example():
    Z = toy_embedding(PAPER)
    tree = MustLinkIndexer(prefix_len=2, nr_splits=2, max_leaf_size=2).build(Z, labels=PAPER)
    # components by 2-prefix: {a}, {ab, abc, abd, abfgh, abfgi}, {bcde, bcdf}; 2 rounds of
    # weighted splits separate the 3 components, which never split themselves
    assert tree.level_sizes == [1, 2, 3, 8]
    check_tree(tree, 8)
    assert sorted(map(sorted, leaf_sets(tree, PAPER))) == sorted(map(sorted, [
        {"a"}, {"ab", "abc", "abd", "abfgh", "abfgi"}, {"bcde", "bcdf"}]))
    # prefix_len 5: every label is its own component -> balanced leaves of <= 2
    tree5 = MustLinkIndexer(prefix_len=5, nr_splits=2, max_leaf_size=2).build(Z, labels=PAPER)
    assert tree5.level_sizes == [1, 2, 4, 8]
    assert sorted(len(s) for s in leaf_sets(tree5, PAPER)) == [2, 2, 2, 2]


@pytest.mark.parametrize("prefix_len, nr_splits", [(1, 2), (3, 2), (5, 4), (0, 2)])
def test_mustlink_random(prefix_len, nr_splits):
    rng = np.random.default_rng(prefix_len)
    labels = random_strings(rng, 500, alphabet="abcdefgh ", max_len=8)
    tree = MustLinkIndexer(prefix_len=prefix_len, nr_splits=nr_splits, max_leaf_size=20,
                           n_jobs=1).build(toy_embedding(labels), labels=labels)
    check_tree(tree, len(labels))
    leaf = node_paths(tree)[-1]
    key_leaf: dict[str, int] = {}
    for s, c in zip(labels, leaf.tolist()):
        if prefix_len:  # must-link: one leaf per prefix
            assert key_leaf.setdefault(s[:prefix_len], c) == c
    if prefix_len == 0:  # no constraint: exactly balanced like HierarchicalKMeans
        sizes = np.bincount(leaf)
        assert sizes.max() - sizes.min() <= 1


def test_mustlink_small_and_bad_input():
    Z = toy_embedding(PAPER)
    assert MustLinkIndexer(max_leaf_size=8).build(Z, labels=PAPER).level_sizes == [1, 8]
    with pytest.raises(ValueError, match="prefix_len must be <= 5"):
        MustLinkIndexer(prefix_len=6).build(Z, labels=PAPER)
    with pytest.raises(ValueError, match="distinct"):
        MustLinkIndexer(max_leaf_size=2).build(Z[:2], labels=["a", "a"])


def test_binary_levels_kept():
    assert binary_levels_kept(5, 2) == [1, 2, 3, 4, 5]
    assert binary_levels_kept(5, 4) == [1, 3, 5]
    assert binary_levels_kept(5, 16) == [1, 5]
    assert binary_levels_kept(0, 2) == []


def test_registered():
    assert INDEXERS["trie"] is TrieIndexer
    assert INDEXERS["hybrid"] is TrieHybridIndexer
    assert INDEXERS["mustlink"] is MustLinkIndexer


@pytest.mark.parametrize("name", sorted(INDEXERS))
def test_every_indexer_has_one_signature(name):
    """INDEXERS[name](**its Params, seed=, n_jobs=).build(Z, labels=labels), whatever the name."""
    from dataclasses import fields

    cls = INDEXERS[name]
    params = {f.name: f.default for f in fields(cls.Params)}
    ix = cls(**params, seed=3, n_jobs=1)
    assert {k: getattr(ix, k) for k in params} == params and ix.seed == 3
    labels = [f"{a}{b}" for a in "abcd" for b in "xyz"]
    Z = sp.csr_matrix(np.eye(len(labels), dtype=np.float32))
    tree = ix.build(Z, labels=labels)
    assert tree.n_labels == len(labels)


# ------------------------------------------------------------------ XR-Linear on each tree


@pytest.mark.parametrize("name", ["trie", "hybrid", "mustlink"])
def test_xrlinear_trains_and_predicts_on_string_trees(name):
    rng = np.random.default_rng(0)
    labels = sorted(random_strings(rng, 60, alphabet="abcd ", max_len=6))
    Z = toy_embedding(labels)
    rows = np.repeat(np.arange(60), 3)  # 3 noisy copies of each label's embedding
    X = normalize(Z[rows] + sp.random(180, Z.shape[1], density=0.02, random_state=0,
                                      dtype=np.float32)).astype(np.float32)
    Y = sp.csr_matrix((np.ones(180, np.float32), (np.arange(180), rows)), shape=(180, 60))
    params = {"trie": dict(depth=4), "hybrid": dict(trie_depth=1, nr_splits=2,
                                                    max_leaf_size=4),
              "mustlink": dict(prefix_len=2, nr_splits=2, max_leaf_size=4)}[name]
    tree = INDEXERS[name](**params).build(Z, labels=labels)
    model = XRLinear(nr_splits=2, max_leaf_size=4, n_jobs=1).fit(X, Y, tree=tree)
    P = model.predict(X, beam_size=10, topk=5)
    assert P.shape == (180, 60) and (np.diff(P.indptr) == 5).all()
    ids, scores = model.predict_one(X[0].indices, X[0].data, beam_size=10, topk=5)
    assert ids.size == 5 and (np.diff(scores) <= 0).all()
    top1 = np.asarray(P.argmax(axis=1)).ravel()
    assert (top1 == rows).mean() > 0.5  # learns something on an easy task


# ------------------------------------------------------------------ kernels


def test_range_topk_matches_reference():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 64, 100):
        values = rng.integers(0, 5, n).astype(np.int64)  # many ties
        tree = argmax_tree(values)
        for _ in range(30):
            lo, hi = sorted(rng.integers(0, n + 1, 2))
            k = int(rng.integers(1, 12))
            ref = sorted(range(lo, hi), key=lambda i: (-values[i], i))[:k]
            assert range_topk(tree, values, lo, hi, k).tolist() == ref


def test_weighted_split_level_cuts_by_weight():
    F = normalize(sp.random(6, 5, density=0.6, random_state=1, format="csr")
                  + sp.eye(6, 5, format="csr")).astype(np.float64)
    weights = np.array([10.0, 1, 1, 1, 1, 1])
    perm = np.arange(6, dtype=np.int64)
    out, cuts = weighted_split_level(F.indptr.astype(np.int64), F.indices.astype(np.int64),
                                     F.data, 5, weights, perm, np.array([0, 6], np.int64),
                                     np.array([[0, 1]]), 20, 1)
    assert sorted(out.tolist()) == list(range(6))
    left = out[:cuts[0]]
    # the heavy row (weight 10 of 15) reaches half the total alone, whenever it comes first;
    # otherwise the cut is where the running weight first reaches 7.5
    run = np.cumsum(weights[out])
    assert 1 <= cuts[0] <= 5 and run[cuts[0] - 1] >= 7.5
    assert cuts[0] == 1 or run[cuts[0] - 2] < 7.5
    assert len(left) >= 1
