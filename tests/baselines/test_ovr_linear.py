"""OVRLinear: learns a separable toy, equals XR-Linear on a one-level tree, exact top-k,
save/load, bad inputs."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import normalize

from baselines.ovr_linear import OVRLinear
from xmr import XRLinear
from xmr.metrics import precision_at_k


def separable(n_labels: int = 30, rows_per_label: int = 3, seed: int = 0):
    """Each label owns 3 features no other label uses; each row has one label, carries that
    label's features (strong) and two shared noise features (weak)."""
    rng = np.random.default_rng(seed)
    D = 3 * n_labels + 10
    rows, cols, vals, labels = [], [], [], []
    for r in range(n_labels * rows_per_label):
        lab = r // rows_per_label
        for f in range(3):
            rows.append(r)
            cols.append(3 * lab + f)
            vals.append(1.0 + 0.1 * rng.random())
        for f in rng.choice(10, size=2, replace=False):
            rows.append(r)
            cols.append(3 * n_labels + f)
            vals.append(0.2 * rng.random())
        labels.append(lab)
    n = len(labels)
    X = sp.csr_matrix(normalize(sp.csr_matrix((vals, (rows, cols)), shape=(n, D))),
                      dtype=np.float32)
    Y = sp.csr_matrix((np.ones(n, np.float32), (np.arange(n), labels)), shape=(n, n_labels))
    return X, Y


@cache
def random_problem(n: int = 120, D: int = 40, L: int = 25, seed: int = 1):
    """Random l2-normalised X; multi-label Y, every row and every label non-empty."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, D, density=0.2, format="csr", random_state=rng)
    X = X + sp.csr_matrix((np.ones(n), (np.arange(n), rng.integers(0, D, n))), shape=(n, D))
    X = sp.csr_matrix(normalize(X), dtype=np.float32)
    rows = np.concatenate([rng.permutation(n)[:L], np.arange(n), rng.integers(0, n, n)])
    cols = np.concatenate([np.arange(L), rng.integers(0, L, n), rng.integers(0, L, n)])
    Y = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, cols)), shape=(n, L))
    Y.data[:] = 1.0
    return X, Y


@cache
def fitted() -> OVRLinear:
    X, Y = random_problem()
    return OVRLinear(threshold=0.02, n_jobs=1, chunk_size=4).fit(X, Y)


def dense_scores(model: OVRLinear, X) -> np.ndarray:
    W = model.weights_.toarray().astype(np.float64)
    return X.toarray().astype(np.float64) @ W[:-1] + model.bias * W[-1]


def same_csr(P, Q) -> bool:
    return (P.shape == Q.shape and np.array_equal(P.indptr, Q.indptr)
            and np.array_equal(P.indices, Q.indices) and np.array_equal(P.data, Q.data))


# ---------------------------------------------------------------------------- fit / predict
def test_learns_separable_problem():
    X, Y = separable()
    model = OVRLinear(n_jobs=2)
    assert model.fit(X, Y) is model
    P = model.predict(X, topk=5)
    assert precision_at_k(Y, P, 1) == 1.0
    assert P.shape == (90, 30) and P.format == "csr" and P.dtype == np.float32
    assert np.all(np.diff(P.indptr) == 5) and P.has_sorted_indices


def test_fitted_attributes():
    m = fitted()
    W = m.weights_
    assert W.format == "csc" and W.dtype == np.float32 and W.shape == (41, 25)
    assert m.n_features_in_ == 40 and m.n_labels_ == 25
    assert m.model_nnz_ == W.nnz > 0
    assert np.all(np.abs(W.data.astype(np.float64)) >= 0.02)
    assert W[40].nnz > 0  # bias weights
    assert m.fit_time_s_ > 0
    assert m.lanes_ == 8  # lanes=None resolved: 40 features are few
    assert OVRLinear(lanes=1, n_jobs=1).fit(*random_problem()).lanes_ == 1


@pytest.mark.parametrize("threshold", [0.0, 0.1])
def test_equals_xrlinear_on_a_one_level_tree(threshold):
    # max_leaf_size >= L gives the tree [1, L]: XR-Linear then trains one binary problem per
    # label over all rows with the same solver kernel and seeds
    X, Y = random_problem()
    xr = XRLinear(max_leaf_size=100, threshold=threshold, n_jobs=1, seed=3).fit(X, Y)
    assert xr.tree_.level_sizes == [1, 25]
    ovr = OVRLinear(threshold=threshold, n_jobs=2, lanes=1, chunk_size=7, seed=3).fit(X, Y)
    Wx = xr.weights_[0]
    assert Wx.shape == ovr.weights_.shape
    assert np.array_equal(Wx.indptr, ovr.weights_.indptr)
    assert np.array_equal(Wx.indices, ovr.weights_.indices)
    assert np.array_equal(Wx.data, ovr.weights_.data)
    # and the rankings agree with XR-Linear's raw scores (noop post-processor)
    P = ovr.predict(X, topk=5)
    Q = xr.predict(X, beam_size=25, topk=5, post_processor="noop")
    assert np.array_equal(P.indices, Q.indices)
    np.testing.assert_allclose(P.data, Q.data, atol=1e-5)


def test_chunking_and_threads_do_not_change_the_one_lane_model():
    X, Y = random_problem()
    a = OVRLinear(threshold=0.02, n_jobs=1, lanes=1, chunk_size=1).fit(X, Y)
    b = OVRLinear(threshold=0.02, n_jobs=2, lanes=1).fit(X, Y)  # auto chunk
    c = OVRLinear(threshold=0.02, n_jobs=2, lanes=1, chunk_size=4).fit(X, Y)
    assert (a.weights_ != b.weights_).nnz == 0
    assert (a.weights_ != c.weights_).nnz == 0


def test_threads_do_not_change_the_lanes_model():
    X, Y = random_problem()
    a = OVRLinear(threshold=0.02, n_jobs=1, chunk_size=4).fit(X, Y)
    b = OVRLinear(threshold=0.02, n_jobs=2, chunk_size=4).fit(X, Y)
    assert (a.weights_ != b.weights_).nnz == 0
    assert (a.weights_ != fitted().weights_).nnz == 0


@pytest.mark.parametrize("lanes", [None, 3])
def test_lanes_solve_the_same_problems(lanes):
    # a tight tolerance: every lane count reaches the same optimum as the one-label solver
    X, Y = random_problem()
    one = OVRLinear(threshold=0.0, eps=1e-6, max_iter=10000, n_jobs=1, lanes=1).fit(X, Y)
    many = OVRLinear(threshold=0.0, eps=1e-6, max_iter=10000, n_jobs=2, lanes=lanes,
                     chunk_size=10).fit(X, Y)
    np.testing.assert_allclose(many.weights_.toarray(), one.weights_.toarray(), atol=1e-4)
    # at the default tolerance both are eps-approximate: the rankings agree on this toy
    a = OVRLinear(threshold=0.0, n_jobs=1, lanes=1).fit(X, Y)
    b = OVRLinear(threshold=0.0, n_jobs=1, lanes=lanes).fit(X, Y)
    assert not np.array_equal(a.weights_.toarray(), b.weights_.toarray())  # another path
    pa, pb = a.predict(X, topk=1), b.predict(X, topk=1)
    assert (pa.indices == pb.indices).mean() >= 0.9


def test_auto_lanes_and_chunk():
    m = OVRLinear()
    assert m._lanes(1000) == 8 and m._lanes(10_000_000) == 1
    assert m._chunk(100, 1000, lanes=8) == 256 and m._chunk(100, 40, lanes=8) == 40
    assert m._chunk(1 << 20, 1000, lanes=1) == 2  # one-lane: sized by the output buffer
    assert OVRLinear(lanes=2)._lanes(10_000_000) == 2
    assert OVRLinear(chunk_size=5)._chunk(100, 1000, lanes=8) == 5


@pytest.mark.parametrize("topk", [1, 5, 25, 40])
def test_predict_is_exact_top_k(topk):
    X, _ = random_problem()
    m = fitted()
    P = m.predict(X, topk=topk)
    S = dense_scores(m, X)
    k = min(topk, 25)
    assert np.all(np.diff(P.indptr) == k)
    for r in range(X.shape[0]):
        order = np.lexsort((np.arange(25), -S[r]))[:k]  # score desc, ties by lower label
        row = P[r]
        got = row.indices[np.lexsort((row.indices, -row.data))]
        assert np.array_equal(np.sort(got), np.sort(order))
        np.testing.assert_allclose(np.sort(row.data), np.sort(S[r, order]), atol=1e-5)


def test_predict_bias_only_labels_and_ties():
    # a row with no known feature is scored by the biases alone; equal scores rank by label
    m = fitted()
    P = m.predict(sp.csr_matrix((1, 40), dtype=np.float32), topk=25)
    bias = m.weights_[40].toarray().ravel()
    np.testing.assert_allclose(np.sort(P.data), np.sort(bias), atol=1e-6)
    no_bias = OVRLinear(bias=0.0, n_jobs=1).fit(*random_problem())
    labels, scores = no_bias.predict_one(np.zeros(0, np.int64), np.zeros(0, np.float32), topk=3)
    assert labels.tolist() == [0, 1, 2] and np.all(scores == 0)


def test_predict_one_matches_predict():
    X, _ = random_problem()
    m = fitted()
    P = m.predict(X, topk=6)
    for r in range(0, X.shape[0], 7):
        labels, scores = m.predict_one(X[r].indices, X[r].data, topk=6)
        assert labels.dtype == np.int64 and scores.dtype == np.float32
        row = P[r]
        order = np.lexsort((row.indices, -row.data))
        assert np.array_equal(labels, row.indices[order])
        np.testing.assert_allclose(scores, row.data[order], atol=1e-6)
        assert np.all(np.diff(scores) <= 0)


def test_predict_in_blocks(monkeypatch):
    import baselines.ovr_linear as ovr

    X, _ = random_problem()
    whole = fitted().predict(X, topk=4)
    monkeypatch.setattr(ovr, "_PREDICT_ROWS", 7)
    assert same_csr(fitted().predict(X, topk=4), whole)


def test_allow_empty_labels_and_rows():
    X, Y = random_problem()
    Y = sp.lil_matrix(Y)
    Y[:, 3] = 0
    Y[5, :] = 0
    Y = sp.csr_matrix(Y)
    with pytest.raises(ValueError, match="1 labels with no positive training row"):
        OVRLinear(n_jobs=1).fit(X, Y)
    Y2 = sp.lil_matrix(random_problem()[1])
    Y2[5, :] = 0
    with pytest.raises(ValueError, match="1 rows with no label"):
        OVRLinear(n_jobs=1).fit(X, sp.csr_matrix(Y2))
    m = OVRLinear(n_jobs=1, allow_empty=True).fit(X, Y)
    assert m.n_labels_ == 25


# ---------------------------------------------------------------------------- save / load
def test_save_load_round_trip(tmp_path):
    X, _ = random_problem()
    m = fitted()
    m.save(tmp_path / "m")
    back = OVRLinear.load(tmp_path / "m")
    assert back.get_params() == m.get_params()
    assert (back.weights_ != m.weights_).nnz == 0 and back.model_nnz_ == m.model_nnz_
    assert back.fit_time_s_ == pytest.approx(m.fit_time_s_)
    assert same_csr(back.predict(X, topk=5), m.predict(X, topk=5))


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        OVRLinear.load(tmp_path / "nope")
    with pytest.raises(ValueError, match="ovr_linear.json is missing"):
        OVRLinear.load(tmp_path)
    fitted().save(tmp_path / "m")
    meta_file = tmp_path / "m" / "ovr_linear.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ValueError, match="format version 99"):
        OVRLinear.load(tmp_path / "m")
    meta_file.write_text(json.dumps({**meta, "format": "xmr.XRLinear"}))
    with pytest.raises(ValueError, match="not an OVRLinear model"):
        OVRLinear.load(tmp_path / "m")
    meta_file.write_text("{broken")
    with pytest.raises(ValueError, match="not valid JSON"):
        OVRLinear.load(tmp_path / "m")
    meta_file.write_text(json.dumps({**meta, "n_features_in_": 7}))
    with pytest.raises(ValueError, match="has shape"):
        OVRLinear.load(tmp_path / "m")
    meta_file.write_text(json.dumps(meta))
    (tmp_path / "m" / "W.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="damaged"):
        OVRLinear.load(tmp_path / "m")


# ---------------------------------------------------------------------------- bad inputs
def test_predict_before_fit():
    X, _ = random_problem()
    with pytest.raises(NotFittedError, match="not fitted"):
        OVRLinear().predict(X)
    with pytest.raises(NotFittedError):
        OVRLinear().predict_one(np.array([1]), np.array([1.0]))
    with pytest.raises(NotFittedError):
        OVRLinear().save("unused")


def test_bad_inputs():
    X, Y = random_problem()
    with pytest.raises(TypeError, match="scipy.sparse CSR"):
        OVRLinear().fit(X.toarray(), Y)
    with pytest.raises(ValueError, match="same number of rows"):
        OVRLinear().fit(X, Y[:-1])
    with pytest.raises(ValueError, match="no rows"):
        OVRLinear().fit(X[:0], Y[:0])
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        OVRLinear().fit(bad, Y)
    m = fitted()
    with pytest.raises(ValueError, match="X has 39 features but the model was trained with 40"):
        m.predict(X[:, :39])
    with pytest.raises(ValueError, match="topk must be >= 1, got 0"):
        m.predict(X, topk=0)
    with pytest.raises(ValueError, match="same length"):
        m.predict_one(np.array([1, 2]), np.array([1.0]))
    with pytest.raises(ValueError, match=r"indices\[0\] = 40 is not a feature id of this "
                                         r"model \(must be in \[0, 40\)"):
        m.predict_one(np.array([40]), np.array([1.0]))


@pytest.mark.parametrize("param, value, match", [
    ("threshold", -0.1, "threshold must be >= 0.0, got -0.1"),
    ("Cp", 0.0, "Cp must be > 0.0"),
    ("eps", "x", "eps must be a number"),
    ("max_iter", 0, "max_iter must be >= 1, got 0"),
    ("bias", -1.0, "bias must be >= 0.0"),
    ("n_jobs", -2, "n_jobs must be >= -1"),
    ("chunk_size", 0, "chunk_size must be >= 1, got 0"),
    ("lanes", 0, "lanes must be >= 1, got 0"),
    ("lanes", 2.5, "lanes must be an integer"),
    ("seed", 1.5, "seed must be an integer"),
])
def test_bad_params(param, value, match):
    X, Y = random_problem()
    with pytest.raises((TypeError, ValueError), match=match):
        OVRLinear(**{param: value}).fit(X, Y)


# ----------------------------------------------------------- pruning and its selection
def test_prune_equals_training_at_that_threshold():
    X, Y = random_problem()
    full = OVRLinear(threshold=0.0, n_jobs=1).fit(X, Y)
    for t in (0.01, 0.05, 0.1):
        direct = OVRLinear(threshold=t, n_jobs=1).fit(X, Y)
        pruned = full.prune(t)
        assert pruned.threshold == t and pruned.model_nnz_ == direct.model_nnz_
        assert abs(pruned.weights_ - direct.weights_).max() == 0
    assert full.prune(0.1).model_nnz_ < full.model_nnz_
    with pytest.raises(ValueError, match="pruned weights cannot come back"):
        full.prune(0.1).prune(0.05)


def test_select_threshold_on_validation_rows():
    from baselines.ovr_linear import THRESHOLD_CANDIDATES, select_threshold
    from xmr.metrics import recall_at_k

    X, Y = random_problem(n=200, seed=4)
    best, scores = select_threshold(X, Y, valid_fraction=0.25, seed=3, n_jobs=1)
    assert set(scores) == set(THRESHOLD_CANDIDATES) >= {0.0, 0.01, 0.05, 0.1}
    assert scores[best] == max(scores.values())
    assert best == max(c for c in scores if scores[c] == scores[best])  # ties: smaller model
    # the scores are recall@10 of the held-out rows, by a model trained on the others
    perm = np.random.default_rng(3).permutation(200)
    valid, fit = np.sort(perm[:50]), np.sort(perm[50:])
    probe = OVRLinear(threshold=0.0, seed=3, n_jobs=1, allow_empty=True).fit(X[fit], Y[fit])
    assert scores[0.05] == recall_at_k(Y[valid], probe.prune(0.05).predict(X[valid]), 10)
    with pytest.raises(ValueError, match="valid_fraction"):
        select_threshold(X, Y, valid_fraction=1.0)
    # lanes against the one-label solver (the code path before lanes): solved to the optimum
    # they choose alike; at the default eps both are eps-approximate and the scores of these
    # 50 rows differ by one row at most (so a near-tie may tip either way)
    tight = {"valid_fraction": 0.25, "seed": 3, "n_jobs": 1, "eps": 1e-6, "max_iter": 10000}
    assert (select_threshold(X, Y, **tight, lanes=1)
            == select_threshold(X, Y, **tight, lanes=None))
    _, scores1 = select_threshold(X, Y, valid_fraction=0.25, seed=3, n_jobs=1, lanes=1)
    assert max(abs(scores1[c] - scores[c]) for c in scores) <= 1 / 50 + 1e-12
    with pytest.raises(ValueError, match="candidates is empty"):
        select_threshold(X, Y, candidates=[])
