"""Ranking metrics on hand-computed toys."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from xmr.metrics import (
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    topk_labels,
)

N_LABELS = 6


def _csr(rows: list[dict[int, float]], n_cols: int = N_LABELS) -> sp.csr_matrix:
    r, c, v = [], [], []
    for i, row in enumerate(rows):
        for lab, score in row.items():
            r.append(i)
            c.append(lab)
            v.append(score)
    return sp.csr_matrix((v, (r, c)), shape=(len(rows), n_cols))


# truth:                      predicted ranking (by score):
#   row 0: {0, 2}               0, 1, 2, 3
#   row 1: {1}                  (nothing predicted)
#   row 2: {}                   0
#   row 3: {3, 4, 5}            0, 4, 5
TRUTH = _csr([{0: 1, 2: 1}, {1: 1}, {}, {3: 1, 4: 1, 5: 1}])
PRED = _csr([{0: 0.9, 1: 0.8, 2: 0.7, 3: 0.1}, {}, {0: 0.5}, {5: 0.2, 4: 0.9, 0: 0.95}])


def test_precision_by_hand():
    # P@1: hits@1 = [1, 0, 0, 0]           -> (1) / 1 / 4 = 0.25
    assert precision_at_k(TRUTH, PRED, 1) == pytest.approx(0.25)
    # P@3: hits@3 = [2, 0, 0, 2]           -> (2/3 + 2/3) / 4 = 1/3
    assert precision_at_k(TRUTH, PRED, 3) == pytest.approx(1 / 3)
    # P@5: hits@5 = [2, 0, 0, 2], k = 5    -> (2/5 + 2/5) / 4 = 0.2 (k, not #predicted)
    assert precision_at_k(TRUTH, PRED, 5) == pytest.approx(0.2)


def test_recall_by_hand():
    # R@1: row 0 1/2, others 0             -> 0.5 / 4 = 0.125
    assert recall_at_k(TRUTH, PRED, 1) == pytest.approx(0.125)
    # R@3: row 0 2/2, row 3 2/3, rows 1-2 0 -> (1 + 2/3) / 4 = 5/12
    assert recall_at_k(TRUTH, PRED, 3) == pytest.approx(5 / 12)


def test_ndcg_by_hand():
    # row 0: hits at ranks 1, 3: dcg = 1/log2(2) + 1/log2(4) = 1.5;
    #        |truth| = 2: idcg = 1/log2(2) + 1/log2(3)
    row0 = 1.5 / (1 + 1 / math.log2(3))
    # row 3: hits at ranks 2, 3: dcg = 1/log2(3) + 1/log2(4);
    #        |truth| = 3: idcg = 1 + 1/log2(3) + 1/log2(4)
    row3 = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3) + 0.5)
    assert row0 == pytest.approx(0.9197207891481876)
    assert ndcg_at_k(TRUTH, PRED, 3) == pytest.approx((row0 + row3) / 4)
    # nDCG@1: row 0 = 1/1, others 0 -> 0.25
    assert ndcg_at_k(TRUTH, PRED, 1) == pytest.approx(0.25)


def test_ndcg_ideal_uses_min_k_truth():
    # 3 relevant labels, k = 2, both top-2 relevant: dcg = idcg = 1 + 1/log2(3) -> 1.0
    truth = _csr([{0: 1, 1: 1, 2: 1}])
    pred = _csr([{0: 0.9, 1: 0.8}])
    assert ndcg_at_k(truth, pred, 2) == pytest.approx(1.0)


def test_mrr_by_hand():
    # first hit: row 0 at rank 1, row 3 at rank 2, rows 1-2 none -> (1 + 1/2) / 4 = 0.375
    assert mrr_at_k(TRUTH, PRED, 3) == pytest.approx(0.375)
    # within the top 1 only row 0 has a hit -> 0.25
    assert mrr_at_k(TRUTH, PRED, 1) == pytest.approx(0.25)


def test_rows_without_prediction_count_zero():
    truth = _csr([{1: 1}, {1: 1}])
    pred = _csr([{1: 0.3}, {}])
    # row 0 perfect, row 1 unpredicted -> every metric is (1 + 0) / 2
    for fn in (precision_at_k, recall_at_k, ndcg_at_k, mrr_at_k):
        assert fn(truth, pred, 1) == pytest.approx(0.5), fn.__name__


def test_rows_without_truth_count_zero_for_recall():
    truth = _csr([{2: 1}, {}])
    pred = _csr([{2: 0.3}, {2: 0.9}])
    # row 0: R@1 = 1/1, row 1: no truth -> 0 (not NaN, not excluded) -> 0.5
    assert recall_at_k(truth, pred, 1) == pytest.approx(0.5)
    assert ndcg_at_k(truth, pred, 1) == pytest.approx(0.5)
    assert mrr_at_k(truth, pred, 1) == pytest.approx(0.5)


def test_ties_broken_by_lower_label_id():
    # scores tie on labels 1, 2, 3; indices stored unsorted on purpose
    pred = sp.csr_matrix((np.array([0.5, 0.5, 0.5, 0.1]), np.array([3, 1, 2, 0]),
                          np.array([0, 4])), shape=(1, N_LABELS))
    assert topk_labels(pred, 4).tolist() == [[1, 2, 3, 0]]
    assert precision_at_k(_csr([{1: 1}]), pred, 1) == 1.0
    assert precision_at_k(_csr([{3: 1}]), pred, 1) == 0.0
    # a clear winner beats a lower id
    pred2 = _csr([{0: 0.4, 5: 0.6}])
    assert topk_labels(pred2, 2).tolist() == [[5, 0]]


def test_topk_labels_pads_with_minus_one():
    top = topk_labels(PRED, 5)
    assert top.dtype == np.int64 and top.shape == (4, 5)
    assert top.tolist() == [[0, 1, 2, 3, -1], [-1] * 5, [0, -1, -1, -1, -1],
                            [0, 4, 5, -1, -1]]


def test_ranking_metrics_keys_and_values():
    m = ranking_metrics(TRUTH, PRED)
    assert set(m) == {"precision_at_1", "precision_at_5", "recall_at_10", "recall_at_100",
                      "ndcg_at_10", "mrr_at_10"}
    assert all(isinstance(v, float) for v in m.values())
    assert m["precision_at_1"] == pytest.approx(0.25)
    assert m["precision_at_5"] == pytest.approx(0.2)
    # everything predicted is within the top 10: R@10 = (2/2 + 2/3) / 4
    assert m["recall_at_10"] == pytest.approx(5 / 12)
    assert m["recall_at_100"] == pytest.approx(5 / 12)
    assert m["mrr_at_10"] == pytest.approx(0.375)


@pytest.mark.parametrize("fn", [precision_at_k, recall_at_k, ndcg_at_k, mrr_at_k])
@pytest.mark.parametrize("k", [0, -1])
def test_k_below_one_raises(fn, k):
    with pytest.raises(ValueError, match=f"k must be >= 1, got {k}"):
        fn(TRUTH, PRED, k)


def test_topk_labels_k_below_one_raises():
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        topk_labels(PRED, 0)


@pytest.mark.parametrize("fn", [precision_at_k, recall_at_k, ndcg_at_k, mrr_at_k])
def test_row_count_mismatch_raises(fn):
    with pytest.raises(ValueError, match=r"same shape \(rows, labels\), got Y_true \(4, \d+\) "
                                         r"and Y_pred \(3, \d+\)"):
        fn(TRUTH, PRED[:3], 1)


def test_dense_input_raises_type_error():
    with pytest.raises(TypeError, match="Y_pred must be a scipy.sparse matrix"):
        precision_at_k(TRUTH, PRED.toarray(), 1)


def test_explicit_zero_in_truth_is_not_relevant():
    # the module documents "non-zero = relevant": a stored 0 must not count as a hit
    truth = sp.csr_matrix((np.array([0.0, 1.0]), np.array([0, 1]), np.array([0, 2])),
                          shape=(1, N_LABELS))
    pred = _csr([{0: 0.9, 1: 0.1}])
    assert precision_at_k(truth, pred, 1) == 0.0  # label 0 is not relevant
    assert recall_at_k(truth, pred, 2) == pytest.approx(1.0)  # |truth| = 1, not 2


def test_inputs_not_modified():
    pred = sp.csr_matrix((np.array([0.5, 0.7]), np.array([3, 1]), np.array([0, 2])),
                         shape=(1, N_LABELS))
    before = (pred.data.copy(), pred.indices.copy())
    ranking_metrics(_csr([{1: 1}]), pred)
    assert np.array_equal(pred.data, before[0]) and np.array_equal(pred.indices, before[1])


def test_per_query_metrics_average_to_ranking_metrics():
    from xmr.metrics import per_query_metrics, ranking_metrics

    Y = sp.random(50, 300, density=0.01, format="csr", random_state=1)
    Y.data[:] = 1.0
    P = sp.random(50, 300, density=0.3, format="csr", random_state=2)
    rows = per_query_metrics(Y, P)
    means = ranking_metrics(Y, P)
    for name, mean_name in (("recall_at_10", "recall_at_10"), ("recall_at_100", "recall_at_100"),
                            ("precision_at_1", "precision_at_1"),
                            ("reciprocal_rank", "mrr_at_10")):
        assert rows[name].shape == (50,)
        assert rows[name].mean() == pytest.approx(means[mean_name])


def test_per_query_metrics_hand_computed():
    from xmr.metrics import per_query_metrics

    Y = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], dtype=np.float32))
    P = sp.csr_matrix(np.array([[0.1, 0.9, 0.5, 0], [0.9, 0.8, 0.7, 0], [0.5, 0, 0, 0]]))
    rows = per_query_metrics(Y, P)
    # row 0: ranking 1, 2, 0 -> hits at ranks 2 and 3; row 1: its label never predicted
    np.testing.assert_allclose(rows["recall_at_10"], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(rows["precision_at_1"], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(rows["reciprocal_rank"], [0.5, 0.0, 0.0])
