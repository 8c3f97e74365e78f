"""Boundary checks of XRLinear: every error branch, with a message that names the parameter
and the value received."""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp
from _toy import random_problem
from sklearn.exceptions import NotFittedError

from xmr import XRLinear

FAST = dict(nr_splits=2, max_leaf_size=4, n_jobs=1)


@cache
def data():
    return random_problem(40, 30, 12, seed=8)


@cache
def fitted() -> XRLinear:
    X, Y = data()
    return XRLinear(**FAST).fit(X, Y)


def same_model(a: XRLinear, b: XRLinear) -> bool:
    return all(Wa.shape == Wb.shape and (Wa != Wb).nnz == 0
               for Wa, Wb in zip(a.weights_, b.weights_, strict=True))


# ----------------------------------------------------------------------------- X and Y
def test_row_count_mismatch():
    X, Y = data()
    with pytest.raises(ValueError, match="X and Y must have the same number of rows, got X "
                                         "with 40 rows and Y with 39"):
        XRLinear(**FAST).fit(X, Y[:39])


def test_dense_X_refused():
    X, Y = data()
    with pytest.raises(TypeError, match="X must be a scipy.sparse CSR matrix .* got ndarray"):
        XRLinear(**FAST).fit(X.toarray(), Y)
    with pytest.raises(TypeError, match="X must be a scipy.sparse CSR matrix .* got ndarray"):
        fitted().predict(X.toarray())


def test_dense_Y_refused():
    X, Y = data()
    with pytest.raises(TypeError, match="Y must be a scipy.sparse matrix .* got ndarray"):
        XRLinear(**FAST).fit(X, Y.toarray())


def test_non_numeric_X_refused():
    X, Y = data()
    with pytest.raises(TypeError, match="X must hold numbers, got dtype bool"):
        XRLinear(**FAST).fit(X.astype(bool), Y)


@pytest.mark.parametrize("convert", [
    lambda M: M.tocsc(), lambda M: M.tocoo(), lambda M: M.astype(np.float64),
    lambda M: sp.csr_array(M), lambda M: M.tocsc().astype(np.float64),
], ids=["csc", "coo", "float64", "csr_array", "csc-float64"])
def test_other_sparse_formats_and_float64_accepted(convert):
    X, Y = data()
    m = XRLinear(**FAST).fit(convert(X), convert(Y))
    assert same_model(m, fitted())
    P = fitted().predict(convert(X), topk=3)
    Q = fitted().predict(X, topk=3)
    assert (P != Q).nnz == 0


def test_unsorted_indices_accepted_and_input_untouched():
    X, _ = data()
    Xu = X.copy()
    for r in range(Xu.shape[0]):  # reverse each row's entries
        s, e = Xu.indptr[r], Xu.indptr[r + 1]
        Xu.indices[s:e] = Xu.indices[s:e][::-1].copy()
        Xu.data[s:e] = Xu.data[s:e][::-1].copy()
    Xu.has_sorted_indices = False
    before = Xu.indices.copy()
    assert (fitted().predict(Xu, topk=3) != fitted().predict(X, topk=3)).nnz == 0
    assert np.array_equal(Xu.indices, before)


def test_duplicate_entries_are_summed():
    # a non-canonical CSR (feature 0 stored twice) means the sum of the duplicates, for
    # training and prediction alike
    X, _ = data()
    row = X.getrow(0)
    f, v = row.indices[0], row.data[0]
    dup = sp.csr_matrix((np.concatenate([[v / 2, v / 2], row.data[1:]]),
                         np.concatenate([[f, f], row.indices[1:]]), [0, row.nnz + 1]),
                        shape=row.shape)
    P = fitted().predict(dup, beam_size=3, topk=5)
    Q = fitted().predict(row, beam_size=3, topk=5)
    assert np.array_equal(P.indices, Q.indices)
    np.testing.assert_allclose(P.data, Q.data, rtol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_X(bad):
    X, Y = data()
    Xb = X.copy()
    Xb.data[3] = bad
    with pytest.raises(ValueError, match="X contains 1 NaN or inf values"):
        XRLinear(**FAST).fit(Xb, Y)
    with pytest.raises(ValueError, match="X contains 1 NaN or inf values"):
        fitted().predict(Xb)


@pytest.mark.parametrize("bad", [np.nan, -1.0])
def test_bad_values_in_Y(bad):
    X, Y = data()
    Yb = Y.copy()
    Yb.data[0] = bad
    with pytest.raises(ValueError, match="Y must hold non-negative finite values"):
        XRLinear(**FAST).fit(X, Yb)


def test_fit_does_not_modify_Y():
    X, Y = data()
    Yg = Y.copy()
    Yg.data[:] = 3.0  # graded relevance
    Yg.data[0] = 0.0  # and one explicit zero
    before = (Yg.data.copy(), Yg.indices.copy(), Yg.indptr.copy())
    XRLinear(**FAST, allow_empty=True).fit(X, Yg)
    assert np.array_equal(Yg.data, before[0])
    assert np.array_equal(Yg.indices, before[1])
    assert np.array_equal(Yg.indptr, before[2])


def test_graded_Y_treated_as_binary():
    X, Y = data()
    Yg = Y.copy()
    Yg.data[:] = 5.0
    assert same_model(XRLinear(**FAST).fit(X, Yg), fitted())


def test_label_without_positive():
    X, Y = data()
    Y = sp.hstack([Y, sp.csr_matrix((40, 1))], format="csr")  # label 12: no positive row
    with pytest.raises(ValueError, match=re.escape("1 labels with no positive training row "
                                                   "(e.g. label ids [12])")) as info:
        XRLinear(**FAST).fit(X, Y)
    assert "allow_empty=True" in str(info.value)
    m = XRLinear(**FAST, allow_empty=True).fit(X, Y)
    assert m.n_labels_ == 13


def test_row_without_label():
    X, Y = data()
    Y = sp.vstack([Y, sp.csr_matrix((1, 12))], format="csr")  # row 40: no label
    X = sp.vstack([X, X[:1]], format="csr")
    with pytest.raises(ValueError, match=re.escape("1 rows with no label (e.g. rows [40])")):
        XRLinear(**FAST).fit(X, Y)
    XRLinear(**FAST, allow_empty=True).fit(X, Y)


def test_no_rows_or_too_few_labels():
    X, Y = data()
    with pytest.raises(ValueError, match="X has no rows"):
        XRLinear(**FAST).fit(X[:0], Y[:0])
    with pytest.raises(ValueError, match="Y must have at least 2 labels, got 1"):
        XRLinear(**FAST).fit(X, sp.csr_matrix(np.ones((40, 1))))


def test_feature_count_mismatch_at_predict():
    X, _ = data()
    with pytest.raises(ValueError, match="X has 29 features but the model was trained with "
                                         "30"):
        fitted().predict(X[:, :29])


# ----------------------------------------------------------------------------- predict args
@pytest.mark.parametrize("name, value", [("beam_size", 0), ("beam_size", -3), ("topk", 0)])
def test_beam_size_topk_below_one(name, value):
    X, _ = data()
    msg = f"{name} must be >= 1, got {value}"
    with pytest.raises(ValueError, match=msg):
        fitted().predict(X, **{name: value})
    row = X.getrow(0)
    with pytest.raises(ValueError, match=msg):
        fitted().predict_one(row.indices, row.data, **{name: value})


@pytest.mark.parametrize("name, value, shown", [
    ("beam_size", True, "bool True"), ("beam_size", 2.0, "float 2.0"),
    ("topk", "5", "str '5'"),
])
def test_predict_arg_wrong_type(name, value, shown):
    X, _ = data()
    with pytest.raises(TypeError, match=f"{name} must be an integer, got {shown}"):
        fitted().predict(X, **{name: value})


def test_unknown_post_processor():
    X, _ = data()
    with pytest.raises(ValueError, match="post_processor must be one of .*'l3-hinge'.*, got "
                                         "'relu'"):
        fitted().predict(X, post_processor="relu")


def test_predict_before_fit():
    X, _ = data()
    with pytest.raises(NotFittedError, match="not fitted"):
        XRLinear().predict(X)
    with pytest.raises(NotFittedError):
        XRLinear().predict_one(np.array([0]), np.array([1.0], np.float32))


# ----------------------------------------------------------------------------- hyper-params
def test_init_validates_nothing():
    m = XRLinear(nr_splits=3, max_leaf_size=-1, threshold="x", negative_sampling="?")
    assert m.nr_splits == 3 and m.threshold == "x"


@pytest.mark.parametrize("nr_splits, msg", [
    (3, "nr_splits must be a power of two >= 2, got 3"),
    (12, "nr_splits must be a power of two >= 2, got 12"),
    (1, "nr_splits must be >= 2, got 1"),
    (0, "nr_splits must be >= 2, got 0"),
])
def test_nr_splits(nr_splits, msg):
    X, Y = data()
    with pytest.raises(ValueError, match=msg):
        XRLinear(**{**FAST, "nr_splits": nr_splits}).fit(X, Y)


@pytest.mark.parametrize("params, msg", [
    ({"max_leaf_size": 1}, "max_leaf_size must be >= 2, got 1"),
    ({"threshold": -0.1}, "threshold must be >= 0.0, got -0.1"),
    ({"threshold": float("nan")}, "threshold must be finite, got nan"),
    ({"Cp": 0.0}, "Cp must be > 0.0, got 0.0"),
    ({"Cn": -1}, "Cn must be > 0.0, got -1.0"),
    ({"eps": 0}, "eps must be > 0.0, got 0.0"),
    ({"max_iter": 0}, "max_iter must be >= 1, got 0"),
    ({"bias": -1.0}, "bias must be >= 0.0, got -1.0"),
    ({"seed": -1}, "seed must be >= 0, got -1"),
    ({"n_jobs": -2}, "n_jobs must be >= -1, got -2"),
])
def test_out_of_range_params(params, msg):
    X, Y = data()
    with pytest.raises(ValueError, match=re.escape(msg)):
        XRLinear(**{**FAST, **params}).fit(X, Y)


@pytest.mark.parametrize("params, msg", [
    ({"nr_splits": True}, "nr_splits must be an integer, got bool True"),
    ({"max_leaf_size": "100"}, "max_leaf_size must be an integer, got str '100'"),
    ({"max_leaf_size": 8.0}, "max_leaf_size must be an integer, got float 8.0"),
    ({"seed": False}, "seed must be an integer, got bool False"),
    ({"n_jobs": "2"}, "n_jobs must be an integer, got str '2'"),
    ({"threshold": "0.1"}, "threshold must be a number, got str '0.1'"),
    ({"threshold": True}, "threshold must be a number, got bool True"),
    ({"Cp": None}, "Cp must be a number, got NoneType None"),
])
def test_wrong_type_params(params, msg):
    X, Y = data()
    with pytest.raises(TypeError, match=re.escape(msg)):
        XRLinear(**{**FAST, **params}).fit(X, Y)


def test_numpy_scalars_accepted():
    X, Y = data()
    m = XRLinear(**{**FAST, "max_leaf_size": np.int64(4), "threshold": np.float32(0.1)})
    assert same_model(m.fit(X, Y), fitted())


def test_unknown_negative_sampling():
    X, Y = data()
    with pytest.raises(ValueError, match=re.escape(
            "negative_sampling must be one of ['man', 'tfn'], got 'random'")):
        XRLinear(**FAST, negative_sampling="random").fit(X, Y)


@pytest.mark.parametrize("value, exc, msg", [
    (-0.5, ValueError, "threshold must be >= 0.0, got -0.5"),
    ("high", TypeError, "threshold must be a number, got str 'high'"),
])
def test_prune_threshold_checked(value, exc, msg):
    with pytest.raises(exc, match=re.escape(msg)):
        fitted().prune(value)
