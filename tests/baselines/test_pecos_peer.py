"""The PECOS peer adapter: round trip, tree layout, PECOS's golden output, errors.

Tests that run PECOS take the `peer_python` fixture and skip without the peer venv; the
validation tests fail before any worker starts, so they run everywhere.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import normalize

from baselines import pecos_peer
from baselines.pecos_peer import PecosXRLinear

N, D, L = 300, 50, 40


def _problem(seed: int = 0, n: int = N):
    """Tiny XMC problem whose labels depend on the features (so there is something to learn)."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, D, density=0.2, format="csr", dtype=np.float32, random_state=rng)
    X = sp.csr_matrix(normalize(X), dtype=np.float32)
    W = rng.standard_normal((D, L)).astype(np.float32)
    scores = X @ W
    top = np.argsort(-scores, axis=1)[:, :2]
    Y = sp.csr_matrix((np.ones(top.size, np.float32), top.ravel(), np.arange(0, top.size + 1, 2)),
                      shape=(n, L))
    return X, Y


@pytest.fixture(scope="module")
def problem():
    return _problem()


@pytest.fixture(scope="module")
def fitted(peer_python, problem):
    X, Y = problem
    model = PecosXRLinear(max_leaf_size=10, peer_python=peer_python).fit(X, Y)
    yield model
    model.close()


# ------------------------------------------------------------------------------- with PECOS
@pytest.mark.peer
def test_fit_predict_round_trip(fitted, problem):
    X, Y = problem
    assert fitted.train_time_s_ > 0
    assert 0 < fitted.index_time_s_ <= fitted.train_time_s_
    assert fitted.model_nnz_ > 0
    assert fitted.peer_versions_["libpecos"] == "1.2.8"

    P = fitted.predict(X[:50], beam_size=10, topk=5)
    assert sp.isspmatrix_csr(P) and P.dtype == np.float32 and P.shape == (50, L)
    assert (np.diff(P.indptr) == 5).all()
    assert ((P.data > 0) & (P.data <= 1)).all()  # l3-hinge scores multiply values in (0, 1]
    # the model learned something: its top label is a true label for most training rows
    top1 = np.asarray(P.argmax(axis=1)).ravel()
    assert Y[np.arange(50), top1].mean() > 0.7


@pytest.mark.peer
def test_tree_layout(fitted):
    chain = fitted.tree_
    assert len(chain) >= 2
    assert chain[0].shape[1] == 1
    assert chain[-1].shape[0] == L
    for upper, lower in zip(chain, chain[1:]):
        assert lower.shape[1] == upper.shape[0]
    for C in chain:
        assert sp.isspmatrix_csc(C) and C.dtype == np.float32
        assert (np.diff(sp.csr_matrix(C).indptr) == 1).all()  # one parent per node


@pytest.mark.peer
def test_training_on_a_given_tree_keeps_it(fitted, problem, peer_python):
    X, Y = problem
    model = PecosXRLinear(max_leaf_size=10, peer_python=peer_python).fit(X, Y, tree=fitted.tree_)
    try:
        assert model.index_time_s_ == 0.0
        assert len(model.tree_) == len(fitted.tree_)
        for a, b in zip(model.tree_, fitted.tree_):
            assert a.shape == b.shape and (a != b).nnz == 0
        assert model.model_nnz_ == fitted.model_nnz_
        np.testing.assert_allclose(model.predict(X[:20]).toarray(),
                                   fitted.predict(X[:20]).toarray(), atol=1e-6)
    finally:
        model.close()


@pytest.mark.peer
def test_accepts_a_label_tree_object(fitted, problem, peer_python):
    tree_mod = pytest.importorskip("xmr.tree")
    X, Y = problem
    tree = tree_mod.LabelTree.from_pecos_chain(fitted.tree_)
    with PecosXRLinear(peer_python=peer_python).fit(X, Y, tree=tree) as model:
        assert [C.shape for C in model.tree_] == [C.shape for C in fitted.tree_]


@pytest.mark.peer
def test_float64_input_is_converted_silently(peer_python, problem):
    X, Y = problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with PecosXRLinear(max_leaf_size=10, peer_python=peer_python) as model:
            model.fit(X[:100].astype(np.float64), Y[:100])
            assert model.predict(X[:3].astype(np.float64)).dtype == np.float32


@pytest.mark.peer
def test_measure_latency(fitted, problem):
    X, _ = problem
    res = fitted.measure_latency(X[:40], n_warmup=5)
    assert res["n_queries"] == 40
    assert 0 < res["latency_p50_ms"] <= res["latency_p99_ms"]
    assert res["latency_mean_ms"] > 0 and res["throughput_qps"] > 0


@pytest.mark.peer
@pytest.mark.realdata
def test_reproduces_pecos_golden_predictions(peer_python, shared_data):
    """PECOS's own fixture (test_xlinear.py::test_cli): XR-Linear with max_leaf_size=10,
    predicted with the model's stored settings, i.e. beam 10, topk 20, l3-hinge."""
    folder = shared_data / "pecos-tst" / "xmc" / "xlinear"
    X, Y, Xt = (sp.csr_matrix(sp.load_npz(folder / f"{n}.npz")) for n in ("X", "Y", "Xt"))
    expected = sp.load_npz(folder / "Yt_pred.npz").toarray()
    with PecosXRLinear(max_leaf_size=10, peer_python=peer_python).fit(X, Y) as model:
        P = model.predict(Xt, beam_size=10, topk=20, post_processor="l3-hinge")
    np.testing.assert_allclose(P.toarray(), expected, atol=1e-6)


@pytest.mark.peer
def test_predict_checks_feature_count(fitted):
    with pytest.raises(ValueError, match="51 features but the model was trained on 50"):
        fitted.predict(sp.csr_matrix((2, D + 1), dtype=np.float32))


@pytest.mark.peer
def test_close_removes_the_model(peer_python, problem):
    X, Y = problem
    model = PecosXRLinear(max_leaf_size=10, peer_python=peer_python).fit(X[:100], Y[:100])
    folder = model._tmpdir
    assert (folder / "model").is_dir()
    model.close()
    assert not folder.exists()
    with pytest.raises(NotFittedError):
        model.predict(X[:2])


# --------------------------------------------------------------------- errors, no PECOS needed
def test_worker_failure_raises_with_stderr_tail(problem):
    """The project interpreter has no pecos: the worker dies and its traceback surfaces."""
    X, Y = problem
    model = PecosXRLinear(peer_python=sys.executable)
    with pytest.raises(RuntimeError, match=r"(?s)PECOS worker 'fit' failed.*No module named "
                                           r"'pecos'"):
        model.fit(X, Y)
    model.close()


def test_bad_peer_path(problem, tmp_path):
    X, Y = problem
    with pytest.raises(FileNotFoundError, match="peer_python .*nope.* does not exist"):
        PecosXRLinear(peer_python=tmp_path / "nope").fit(X, Y)


def test_missing_peer_venv(problem, tmp_path, monkeypatch):
    monkeypatch.setenv("XMR_PEER_PYTHON", str(tmp_path / "nope"))
    assert pecos_peer.find_peer_python() is None
    X, Y = problem
    with pytest.raises(RuntimeError, match="make peer"):
        PecosXRLinear().fit(X, Y)


def test_find_peer_python_rejects_an_interpreter_without_pecos(monkeypatch):
    monkeypatch.setenv("XMR_PEER_PYTHON", sys.executable)
    assert pecos_peer.find_peer_python() is None


@pytest.mark.parametrize(
    ("X", "Y", "exc", "match"),
    [
        (np.ones((3, 4), np.float32), sp.csr_matrix((3, 2)), TypeError, "scipy.sparse CSR"),
        (sp.csr_matrix((3, 4), dtype=np.float32), np.ones((3, 2)), TypeError, "Y must be"),
        (sp.csr_matrix((3, 4), dtype=np.float32), sp.csr_matrix((5, 2)), ValueError,
         r"same number of rows, got X \(3, 4\) and Y \(5, 2\)"),
    ],
)
def test_fit_validates_inputs(X, Y, exc, match, tmp_path):
    with pytest.raises(exc, match=match):
        PecosXRLinear(peer_python=tmp_path / "never-started").fit(X, Y)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"nr_splits": 3}, "nr_splits must be a power of two >= 2, got 3"),
        ({"max_leaf_size": 1}, "max_leaf_size must be >= 2, got 1"),
        ({"threshold": -0.1}, "threshold must be >= 0.0, got -0.1"),
        ({"Cp": 0.0}, "Cp must be > 0.0, got 0.0"),
        ({"negative_sampling": "tfn+man"}, "negative_sampling must be one of"),
        ({"n_jobs": -2}, "n_jobs must be >= -1, got -2"),
    ],
)
def test_fit_validates_hyperparameters(params, match, problem, tmp_path):
    X, Y = problem
    with pytest.raises(ValueError, match=match):
        PecosXRLinear(**params, peer_python=tmp_path / "never-started").fit(X, Y)


@pytest.mark.parametrize(
    ("tree", "exc", "match"),
    [
        ([], TypeError, "non-empty list"),
        ([np.ones((4, 1))], TypeError, r"tree\[0\] must be a scipy.sparse"),
        ([sp.csc_matrix(np.ones((4, 2)))], ValueError, r"tree\[0\] must have 1 column"),
        ([sp.csc_matrix(np.ones((2, 1))), sp.csc_matrix(np.ones((4, 3)))], ValueError,
         "shapes must chain"),
        ([sp.csc_matrix(np.ones((2, 1))), sp.csc_matrix(np.ones((3, 2)))], ValueError,
         r"one row per label \(4\)"),
    ],
)
def test_fit_validates_tree(tree, exc, match, tmp_path):
    X = sp.csr_matrix(np.eye(4, dtype=np.float32))
    Y = sp.csr_matrix(np.eye(4, dtype=np.float32))
    with pytest.raises(exc, match=match):
        PecosXRLinear(peer_python=tmp_path / "never-started").fit(X, Y, tree=tree)


@pytest.mark.parametrize("method", ["predict", "measure_latency"])
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"beam_size": 0}, ValueError, "beam_size must be >= 1, got 0"),
        ({"topk": 0}, ValueError, "topk must be >= 1, got 0"),
        ({"beam_size": 2.5}, TypeError, "beam_size must be an integer"),
        ({"post_processor": "softmax"}, ValueError, "post_processor must be one of"),
        ({}, NotFittedError, "not fitted"),
    ],
)
def test_prediction_validates_arguments(method, kwargs, exc, match):
    X = sp.csr_matrix((2, 4), dtype=np.float32)
    with pytest.raises(exc, match=match):
        getattr(PecosXRLinear(), method)(X, **kwargs)
