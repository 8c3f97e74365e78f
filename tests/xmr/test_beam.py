"""Beam search against a pure-Python reference, brute force, the single-query path and
thread counts."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp
from _toy import random_features, random_labels, random_problem, random_tree

from xmr import XRLinear
from xmr.kernels.beam import POST_PROCESSORS


# ----------------------------------------------------------------------------- reference
def ref_combine(s: float, parent: float, name: str) -> float:
    if name == "noop":
        return s
    if name == "sigmoid":
        return parent / (1.0 + math.exp(-s))
    if name == "log-sigmoid":
        return parent - math.log1p(math.exp(-s))
    p = int(name.removeprefix("log-")[1])  # "l3-hinge" -> 3
    h = max(0.0, 1.0 - s)
    if name.startswith("log-"):
        return parent - h ** p
    return parent * math.exp(-(h ** p))


def ref_root(name: str) -> float:
    return 0.0 if name in ("noop", "log-sigmoid") or name.startswith("log-") else 1.0


def level_scores(x: sp.csr_matrix, W: sp.csc_matrix, bias: float) -> np.ndarray:
    """s = wᵀ[x; bias] for every node of a level, accumulated the way the kernel does:
    the float32 bias term first, then float32 products in increasing feature order."""
    W = W.toarray().astype(np.float32)
    D = W.shape[0] - 1
    s = (W[D] * np.float32(bias)).astype(np.float64)
    for f, v in zip(x.indices, x.data, strict=True):
        s += (np.float32(v) * W[f]).astype(np.float64)
    return s


def ref_beam_search(x: sp.csr_matrix, model: XRLinear, beam_size: int, topk: int,
                    name: str) -> list[tuple[int, float]]:
    """(label, score) best first: expand the beam's children, combine with the parent's
    score, sort by (-score, node id), keep beam_size (topk at the last level)."""
    beam = [(0, ref_root(name))]
    depth = model.tree_.depth
    for t, (C, W) in enumerate(zip(model.tree_.chain, model.weights_, strict=True)):
        C = sp.csc_matrix(C)
        s = level_scores(x, W, model.bias)
        cands = [(ref_combine(s[c], ps, name), int(c))
                 for node, ps in beam for c in C.indices[C.indptr[node]:C.indptr[node + 1]]]
        cands.sort(key=lambda sc: (-sc[0], sc[1]))
        keep = topk if t == depth - 1 else beam_size
        beam = [(c, sc) for sc, c in cands[:keep]]
    return beam


def ranked(P: sp.csr_matrix, r: int) -> list[tuple[int, float]]:
    row = P.getrow(r)
    pairs = sorted(zip(row.indices.tolist(), row.data.tolist(), strict=True),
                   key=lambda ls: (-ls[1], ls[0]))
    return pairs


def assert_same_ranking(got, want, tol=1e-5):
    assert [lab for lab, _ in got] == [lab for lab, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=tol, atol=tol)


# ----------------------------------------------------------------------------- fixtures
SIZES = {"a": [1, 3, 8, 30], "b": [1, 4, 30], "c": [1, 2, 5, 11, 30]}


@cache
def fitted(tree_key: str, threshold: float, bias: float) -> XRLinear:
    X, Y = random_problem(80, 40, 30, seed=11)
    tree = random_tree(SIZES[tree_key], seed=len(tree_key) + 5 * len(SIZES[tree_key]))
    return XRLinear(threshold=threshold, bias=bias, seed=0, n_jobs=1).fit(X, Y, tree=tree)


X_TEST = random_features(12, 40, seed=99)


def without_weights(model: XRLinear) -> XRLinear:
    """``model`` with every weight removed: every score ties. fit and prune refuse a
    threshold that prunes every weight, so the tie tests build this model by hand."""
    empty = [sp.csc_matrix(W.shape, dtype=np.float32) for W in model.weights_]
    model._set_model(model.tree_, empty, 100.0, model.n_features_in_)
    return model


# ----------------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", sorted(POST_PROCESSORS))
@pytest.mark.parametrize("tree_key, threshold, bias", [("a", 0.0, 1.0), ("b", 0.1, 0.5),
                                                       ("c", 0.05, 1.0)])
def test_predict_matches_reference(name, tree_key, threshold, bias):
    model = fitted(tree_key, threshold, bias)
    for beam_size, topk in [(1, 1), (2, 5), (3, 4), (10, 10), (4, 30)]:
        P = model.predict(X_TEST, beam_size=beam_size, topk=topk, post_processor=name)
        assert P.shape == (X_TEST.shape[0], 30) and P.dtype == np.float32
        for r in range(X_TEST.shape[0]):
            want = ref_beam_search(X_TEST.getrow(r), model, beam_size, topk, name)
            assert_same_ranking(ranked(P, r), want)


def test_ties_go_to_lower_node_ids():
    # without any weight every score is 0, so every node ties and the beam must keep the
    # lowest node ids at each level
    model = without_weights(fitted.__wrapped__("a", 0.1, 1.0))  # a copy: not the cached one
    assert model.model_nnz_ == 0
    P = model.predict(X_TEST[:2], beam_size=2, topk=4)
    for r in range(2):
        want = ref_beam_search(X_TEST.getrow(r), model, 2, 4, "l3-hinge")
        assert_same_ranking(ranked(P, r), want)
        assert np.allclose(P.getrow(r).data, math.exp(-1) ** 3)  # exp(-(1-0)^3) per level


def test_ties_go_to_lower_node_ids_not_insertion_order():
    # every parent lists its children in the opposite order of their ids, so candidates
    # arrive as (2, 3, 0, 1) at level 2 and (6, 7, 4, 5) at the labels: with all scores tied
    # (no weight) the beam must still keep the lowest ids
    chain = [sp.csc_matrix(np.ones((2, 1), np.float32)),
             sp.csc_matrix((np.ones(4), (np.arange(4), [1, 1, 0, 0])), shape=(4, 2)),
             sp.csc_matrix((np.ones(8), (np.arange(8), [3, 3, 2, 2, 1, 1, 0, 0])),
                           shape=(8, 4))]
    X, Y = random_features(30, 40, seed=1), random_labels(30, 8, seed=2)
    model = without_weights(XRLinear(n_jobs=1).fit(X, Y, tree=chain))
    P = model.predict(X_TEST[:1], beam_size=2, topk=3)
    assert [lab for lab, _ in ranked(P, 0)] == [4, 5, 6]
    assert_same_ranking(ranked(P, 0), ref_beam_search(X_TEST.getrow(0), model, 2, 3,
                                                      "l3-hinge"))


def brute_force_l3(x: sp.csr_matrix, model: XRLinear) -> np.ndarray:
    """Score of every label = product over its root-to-leaf path of exp(-max(0, 1 - s)^3)."""
    path = np.ones(1)
    for C, W in zip(model.tree_.chain, model.weights_, strict=True):
        s = np.asarray(W[:-1].T @ x.toarray().ravel()).ravel() + W[-1].toarray().ravel() \
            * model.bias
        parent = sp.csr_matrix(C).indices
        path = path[parent] * np.exp(-np.maximum(0.0, 1.0 - s) ** 3)
    return path


@pytest.mark.parametrize("tree_key", ["a", "c"])
def test_wide_beam_is_exhaustive(tree_key):
    model = fitted(tree_key, 0.0, 1.0)
    widest = max(model.tree_.level_sizes)
    P = model.predict(X_TEST, beam_size=widest, topk=model.n_labels_)
    for r in range(X_TEST.shape[0]):
        exact = brute_force_l3(X_TEST.getrow(r), model)
        assert P.getrow(r).nnz == model.n_labels_
        np.testing.assert_allclose(P.getrow(r).toarray().ravel(), exact, rtol=1e-5, atol=1e-7)
        order = sorted(range(exact.size), key=lambda lab: (-exact[lab], lab))
        top5 = [lab for lab, _ in ranked(P, r)[:5]]
        assert top5 == order[:5]


def test_narrow_beam_is_not_exhaustive():
    # guards the previous test: with beam 1 some row's result must differ from brute force
    model = fitted("a", 0.0, 1.0)
    P = model.predict(X_TEST, beam_size=1, topk=1)
    best = [int(np.argmax(brute_force_l3(X_TEST.getrow(r), model)))
            for r in range(X_TEST.shape[0])]
    assert P.indices.tolist() != best


@pytest.mark.parametrize("name", ["l3-hinge", "noop", "log-sigmoid"])
def test_predict_one_equals_predict(name):
    model = fitted("c", 0.05, 1.0)
    P = model.predict(X_TEST, beam_size=3, topk=6, post_processor=name)
    for r in range(X_TEST.shape[0]):
        row = X_TEST.getrow(r)
        labels, scores = model.predict_one(row.indices, row.data, beam_size=3, topk=6,
                                           post_processor=name)
        assert labels.dtype == np.int64 and scores.dtype == np.float32
        got = ranked(P, r)
        assert labels.tolist() == [lab for lab, _ in got]
        assert scores.tolist() == [s for _, s in got]  # bit-identical


def test_predict_one_empty_query():
    model = fitted("b", 0.1, 0.5)
    labels, scores = model.predict_one(np.zeros(0, np.int32), np.zeros(0, np.float32), topk=3)
    empty = sp.csr_matrix((1, X_TEST.shape[1]), dtype=np.float32)
    want = ref_beam_search(empty, model, 10, 3, "l3-hinge")
    assert labels.tolist() == [lab for lab, _ in want]


def test_batch_result_independent_of_thread_count():
    X = random_features(200, 40, seed=5)
    model = fitted("a", 0.0, 1.0)
    results = []
    for n_jobs in (1, 2):
        model.n_jobs = n_jobs  # prediction reads it: 8 row chunks per thread
        results.append(model.predict(X, beam_size=3, topk=7))
    model.n_jobs = 1
    a, b = results
    assert np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.data, b.data)


def test_topk_larger_than_reachable_labels():
    # beam 1 reaches a single leaf: fewer than topk labels exist below it
    model = fitted("b", 0.1, 0.5)
    P = model.predict(X_TEST, beam_size=1, topk=30)
    leaf_sizes = np.diff(sp.csc_matrix(model.tree_.chain[-1]).indptr)
    assert np.all(np.diff(P.indptr) <= leaf_sizes.max())
    assert np.all(np.diff(P.indptr) >= 1)


def test_empty_batch():
    model = fitted("b", 0.1, 0.5)
    P = model.predict(sp.csr_matrix((0, 40), dtype=np.float32))
    assert P.shape == (0, 30) and P.nnz == 0
