"""Bad input to the library, class by class (README "When things go wrong"): every case ends
in an error (or a warning) that names the problem, or is accepted by design — never a
silently different answer, a numba TypingError or a raw MemoryError/OverflowError."""

from __future__ import annotations

import json
import math
import warnings
from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp
from _toy import random_problem

from baselines.ovr_linear import OVRLinear
from xmr import TextFeaturizer, XRLinear
from xmr.indexers import HierarchicalKMeans, TrieHybridIndexer
from xmr.metrics import precision_at_k, ranking_metrics

FAST = dict(nr_splits=2, max_leaf_size=4, n_jobs=1)


@cache
def data():
    return random_problem(40, 30, 12, seed=8)


@cache
def fitted() -> XRLinear:
    X, Y = data()
    return XRLinear(**FAST).fit(X, Y)


@cache
def fitted_ovr() -> OVRLinear:
    X, Y = data()
    return OVRLinear(n_jobs=1).fit(X, Y)


def row(i: int = 0):
    X, _ = data()
    return X.indices[X.indptr[i]:X.indptr[i + 1]], X.data[X.indptr[i]:X.indptr[i + 1]]


# ------------------------------------------------------------- predict_one: the query
BAD_QUERIES = [
    # (indices, data, message): each used to read past the end, answer differently, or
    # end in a numba TypingError
    ([0, 3, 5], [1.0, 0.5], r"indices and data must have the same length, got 3 indices "
                            r"and 2 values"),
    ([3, 0], [0.5, 0.5], r"indices must be strictly increasing .* got 3 then 0 at position 1"),
    ([2, 2], [0.5, 0.5], r"strictly increasing .* got 2 then 2"),
    ([-1, 2], [0.5, 0.5], r"indices\[0\] = -1 is not a feature id of this model \(must be in "
                          r"\[0, 30\)"),
    ([2, 30], [0.5, 0.5], r"indices\[1\] = 30 is not a feature id"),
    ([2, 4], [np.nan, 0.5], r"data\[0\] = nan is not finite"),
    ([2, 4], [0.5, np.inf], r"data\[1\] = inf is not finite"),
]


@pytest.mark.parametrize("model", [fitted, fitted_ovr], ids=["xrlinear", "ovr_linear"])
@pytest.mark.parametrize("indices, values, msg", BAD_QUERIES)
def test_predict_one_refuses_a_bad_query(model, indices, values, msg):
    with pytest.raises(ValueError, match=msg):
        model().predict_one(np.array(indices), np.array(values, np.float32))
    with pytest.raises(ValueError, match=msg):  # lists: the same check, no TypingError
        model().predict_one(list(indices), list(values))


@pytest.mark.parametrize("model", [fitted, fitted_ovr], ids=["xrlinear", "ovr_linear"])
def test_predict_one_accepts_lists_and_other_dtypes_with_the_same_answer(model):
    idx, val = row(3)
    want = model().predict_one(idx, val)
    for args in ((idx.tolist(), val.tolist()), (idx.astype(np.int64), val.astype(np.float64)),
                 (idx.astype(np.int32), val)):
        got = model().predict_one(*args)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
    empty = model().predict_one([], [])  # an empty query is valid: the bias decides
    assert empty[0].dtype == np.int64 and empty[0].size > 0


@pytest.mark.parametrize("indices, values, msg", [
    ("abc", [1.0], "indices must hold integers"),
    ([0.5], [1.0], "indices must hold integers"),
    ([1], ["x"], "data must hold numbers"),
    ([[1, 2]], [[1.0, 2.0]], "must be 1-D"),
])
def test_predict_one_wrong_types(indices, values, msg):
    with pytest.raises((TypeError, ValueError), match=msg):
        fitted().predict_one(indices, values)


# --------------------------------------------------------------------- sizes and params
def test_huge_topk_and_beam_are_capped_at_the_label_count():
    # accepted by design: no beam or top-k can hold more than every label (was a numba
    # MemoryError for topk=2**40 and empty results for beam_size=2**40)
    X, _ = data()
    idx, val = row(0)
    labels, scores = fitted().predict_one(idx, val, topk=2**40, beam_size=2**40)
    full = fitted().predict_one(idx, val, topk=12, beam_size=12)
    np.testing.assert_array_equal(labels, full[0])
    assert labels.size == 12
    P = fitted().predict(X[:3], topk=2**40, beam_size=2**40)
    assert (P != fitted().predict(X[:3], topk=12, beam_size=12)).nnz == 0
    assert fitted_ovr().predict_one(idx, val, topk=2**40)[0].size == 12


@pytest.mark.parametrize("params, exc, msg", [
    ({"allow_empty": "no"}, TypeError, "allow_empty must be True or False, got str 'no'"),
    ({"allow_empty": 0}, TypeError, "allow_empty must be True or False, got int 0"),
    ({"verbose": "yes"}, TypeError, "verbose must be True or False"),
    ({"seed": 2**64}, ValueError, r"seed must be <= 4294967295, got 18446744073709551616"),
    ({"seed": -1}, ValueError, "seed must be >= 0"),
])
def test_params_checked_by_fit(params, exc, msg):
    X, Y = data()
    with pytest.raises(exc, match=msg):
        XRLinear(**FAST, **params).fit(X, Y)


def test_numpy_bool_and_big_valid_seed_accepted():
    X, Y = data()
    XRLinear(**FAST, allow_empty=np.bool_(False), seed=2**32 - 1).fit(X, Y)


# ---------------------------------------------------------- models that cannot work
# rows that are not l2-normalised and thresholds that prune every weight: see
# test_bad_input_model.py


def test_every_row_empty_is_refused():
    _, Y = data()
    with pytest.raises(ValueError, match=r"every row of X is empty \(40 rows, 0 non-zeros\)"):
        XRLinear(**FAST).fit(sp.csr_matrix((40, 30), dtype=np.float32), Y)


def test_featurizer_whose_every_idf_is_zero_is_refused():
    # PECOS's idf max(ln(N / (df + 1)), 0) is 0 for every n-gram of two texts: every row
    # would be empty (this used to pass with a warning)
    f = TextFeaturizer()
    with pytest.raises(ValueError, match=r"every idf is 0: each of the \d+ n-grams occurs in "
                                         r"at least N - 1 of the N = 2 fitted texts .* so every "
                                         r"transformed row would be empty; fit on more"):
        f.fit(["red shoes", "blue shoes"])
    assert not hasattr(f, "n_features_")  # nothing half-fitted
    with pytest.raises(ValueError, match="every idf is 0.*or use idf='sklearn'"):
        TextFeaturizer().fit(["same words"] * 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # some idf > 0, or an idf that is never 0: accepted
        TextFeaturizer().fit(["red shoes", "blue shoes", "green hat"])
        assert TextFeaturizer(idf="sklearn").fit(["red shoes"]).transform(["red"]).nnz > 0


# ------------------------------------------------------------------------ model files
@pytest.mark.parametrize("model, kind, weights", [
    (fitted, "XRLinear", "W0.npz"), (fitted_ovr, "OVRLinear", "W.npz")])
def test_truncated_weight_file(tmp_path, model, kind, weights):
    model().save(tmp_path / "m")
    f = tmp_path / "m" / weights
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(ValueError, match=rf"m is a damaged {kind} model \(.*\); save it "
                                         rf"again or retrain"):
        type(model()).load(tmp_path / "m")


@pytest.mark.parametrize("edit, msg", [
    (lambda p: p.update(nr_splits="sixteen"), "nr_splits must be an integer"),
    (lambda p: p.update(seed=-4), "seed must be >= 0"),
    (lambda p: p.update(colour="red"), "unexpected keyword argument 'colour'"),
    (lambda p: p.pop("threshold") and p.update(threshold=None), "threshold must be a number"),
])
def test_malformed_params_in_the_model_file(tmp_path, edit, msg):
    fitted().save(tmp_path / "m")
    meta_file = tmp_path / "m" / "xrlinear.json"
    meta = json.loads(meta_file.read_text())
    edit(meta["params"])
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=rf"damaged XRLinear model .*{msg}"):
        XRLinear.load(tmp_path / "m")


# ------------------------------------------------------------------------ metrics
def test_metrics_refuse_truth_and_predictions_of_different_label_counts():
    X, Y = data()
    P = fitted().predict(X)
    with pytest.raises(ValueError, match=r"same shape \(rows, labels\), got Y_true \(40, 12\) "
                                         r"and Y_pred \(40, 11\)"):
        ranking_metrics(Y, P[:, :11])
    with pytest.raises(ValueError, match="same shape"):
        precision_at_k(Y[:, :11], P, 1)
    assert math.isfinite(ranking_metrics(Y, P)["recall_at_10"])


# ------------------------------------------------------------------------ featurizers (end)
def test_per_order_and_qac_featurizers_whose_every_idf_is_zero_are_refused():
    from xmr.features import PerOrderFeaturizer
    from xmr.qac import QACVectorizer

    with pytest.raises(ValueError, match=r"every idf is 0: .* N = 2 fitted texts"):
        PerOrderFeaturizer().fit(["red shoes", "blue shoes"])
    # prefixes sharing every n-gram, no previous query: every input row would be empty
    with pytest.raises(ValueError, match=r"every idf is 0: .* N = 2 fitted training examples"):
        QACVectorizer().fit(["", ""], ["ab", "ab"])
    with pytest.raises(ValueError, match="every idf is 0"):  # the query block alone is input
        QACVectorizer(use_prefix=False).fit(["red", "red"], ["r", "b"])
    assert QACVectorizer(idf="sklearn").fit(["", ""], ["ab", "ab"]).n_features_ == 3


# ------------------------------------------------------------------------ sizes (end)
HUGE = 2 ** 40  # columns: a sparse matrix of this width is free, an array over them is not


def huge_problem(n: int = 40):
    rng = np.random.default_rng(0)
    X = sp.csr_matrix((np.ones(n, np.float32), (np.arange(n), rng.integers(0, HUGE, n))),
                      shape=(n, HUGE))
    Y = sp.csr_matrix((np.ones(n, np.float32), (np.arange(n), np.arange(n) % 12)),
                      shape=(n, 12))
    return X, Y


SAYS_TOO_MANY_FEATURES = (r"an index array over the 1,099,511,627,776 columns of {} \(8 bytes "
                          r"a column\) would need 8.0 TiB, more than this machine's .* "
                          r"of memory; lower the number of features \(e.g. the featurizer's "
                          r"max_features")


@pytest.mark.parametrize("fit", [
    lambda X, Y: XRLinear(**FAST).fit(X, Y),  # was a raw MemoryError in the label embedding
    lambda X, Y: OVRLinear(n_jobs=1).fit(X, Y),  # was a raw MemoryError
], ids=["XRLinear", "OVRLinear"])
def test_a_feature_count_too_large_to_index_is_refused_before_allocating(fit):
    with pytest.raises(ValueError, match=SAYS_TOO_MANY_FEATURES.format("X")):
        fit(*huge_problem())


@pytest.mark.parametrize("build", [
    # was a bare SystemError from inside the compiled 2-means kernel
    lambda Z, labels: HierarchicalKMeans(max_leaf_size=4, n_jobs=1).build(Z),
    lambda Z, labels: TrieHybridIndexer(max_leaf_size=4, n_jobs=1).build(Z, labels=labels),
], ids=["hkmeans", "hybrid"])
def test_indexers_refuse_an_embedding_too_wide_to_index(build):
    Z, _ = huge_problem()
    with pytest.raises(ValueError, match=SAYS_TOO_MANY_FEATURES.format("Z")):
        build(Z, [f"label {i}" for i in range(Z.shape[0])])


def test_a_vocabulary_too_large_for_int32_column_ids_is_refused(monkeypatch):
    """Column ids are int32: a vocabulary past 2**31 - 1 n-grams would wrap around silently.
    Such a corpus does not fit in a test, so the limit is lowered."""
    import xmr._validation

    texts = ["red shoes", "blue shoes", "green hat"]
    monkeypatch.setattr(xmr._validation, "INDEX_MAX", 8)
    with pytest.raises(ValueError, match=r"the vocabulary \(5 word \+ 15 char n-grams\) has "
                                         r"20 columns, more than the 8 that int32 column ids can "
                                         r"address; lower max_features \(a cap per block\) or "
                                         r"raise min_df"):
        TextFeaturizer().fit(texts)
    assert TextFeaturizer(max_features=4).fit(texts).n_features_ == 8  # the advice works


def test_a_lookup_table_too_large_for_memory_is_refused_before_building(monkeypatch):
    import xmr._validation

    monkeypatch.setattr(xmr._validation, "physical_memory", lambda: 200)  # bytes
    with pytest.raises(ValueError, match=r"the word n-gram lookup table \(5 n-grams, .*\) "
                                         r"would need 256 bytes, more than this machine's 200 "
                                         r"bytes of memory; lower max_features"):
        TextFeaturizer(char_ngram_range=None).fit(["red shoes", "blue shoes", "green hat"])


def test_a_dual_encoder_embedding_table_too_large_is_refused_before_allocating():
    pytest.importorskip("torch")
    from baselines.dual_encoder import DualEncoder

    X_texts = ["red shoes", "blue shoes", "green hat"]
    Y = sp.identity(3, dtype=np.float32, format="csr")
    with pytest.raises(ValueError, match=r"the n-gram embedding table \(n_buckets="
                                         r"1,099,511,627,776 x dim=256 float32\) would need "
                                         r"1,024.0 TiB, more than this machine's .*; lower "
                                         r"n_buckets or dim"):
        DualEncoder(n_buckets=HUGE).fit(X_texts, Y)
