"""The diagnostics beside the claims (issue 25.6): warm / cold recall of paper 1, seen / unseen
MRR of paper 2, from the per-query columns the jobs log; and those columns themselves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from analysis import diagnostics
from xmr.datasets.tasks import XMRDataset, XMRSplit
from xmr.metrics import cold_positive_counts
from xmr.qac.metrics import seen_and_matched


def test_cold_positive_counts_split_the_hits():
    # 3 rows, 5 labels; labels 3 and 4 are cold
    Y = sp.csr_matrix(np.array([[1, 0, 0, 1, 0], [0, 1, 0, 0, 1], [0, 0, 0, 0, 0]],
                               dtype=np.float32))
    P = sp.csr_matrix(np.array([[0.9, 0.1, 0, 0.5, 0], [0, 0, 0.3, 0, 0.8], [0.2, 0, 0, 0, 0]],
                               dtype=np.float32))
    cold = np.array([False, False, False, True, True])
    top2 = cold_positive_counts(Y, P, cold, k=2)
    assert top2["n_pos"].tolist() == [2, 2, 0]
    assert top2["n_pos_cold"].tolist() == [1, 1, 0]
    # row 0: top 2 = labels 0, 3 (both relevant, 3 cold); row 1: labels 4, 2 (4 relevant, cold)
    assert top2["hits_at_2"].tolist() == [2, 1, 0]
    assert top2["hits_cold_at_2"].tolist() == [1, 1, 0]
    top1 = cold_positive_counts(Y, P, cold, k=1)
    assert top1["hits_at_1"].tolist() == [1, 1, 0] and top1["hits_cold_at_1"].tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="one value per label"):
        cold_positive_counts(Y, P, cold[:3])


def test_title_rows_do_not_make_a_label_warm():
    Y = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]], dtype=np.float32))
    test = XMRSplit(Y=sp.csr_matrix((1, 3), dtype=np.float32), texts=["q"])
    ds = XMRDataset(name="d", splits={"train": XMRSplit(Y=Y, texts=list("abcd")), "test": test},
                    label_ids=["x", "y", "z"], info={"title_rows": [2, 4]})
    assert ds.labels_with_training_queries().tolist() == [True, True, False]
    ds.info = {}  # no title rows: every training row is a query
    assert ds.labels_with_training_queries().tolist() == [True, True, True]


def test_seen_and_matched():
    labels = sorted(["apple", "apricot", "banana"])
    out = seen_and_matched(labels, ["apple", "cherry", "banana"], ["ap", "ch", "x"])
    assert out["seen"].tolist() == [1, 0, 1]
    assert out["prefix_matches_label"].tolist() == [1, 0, 0]


def _runs(rows):
    return pd.DataFrame(rows, columns=["run_id", "experiment", "dataset", "model", "task",
                                       "model_kind", "params.qac_row", "seed"])


def test_the_table_from_per_query_columns():
    runs = _runs([
        ("a0", "paper1_comparison", "hd", "xrlinear", "xmr", "xmr", None, 0),
        ("a1", "paper1_comparison", "hd", "xrlinear", "xmr", "xmr", None, 1),
        ("b0", "paper1_comparison", "hd", "dual_encoder", "xmr", "neural", None, 0),
        ("q9", "qac_table2", "aol", "xrlinear", "qac", "xmr", "9", 0),
        ("m0", "qac_table2", "aol", "mpc", "qac", "baseline", None, 0),
        ("old", "qac_table2", "aol", "xrlinear", "qac", "xmr", "7", 0),
        ("other", "product_search", "hd", "xrlinear", "xmr", "xmr", None, 0),
    ])
    xmr_pq = {  # n_pos, n_pos_cold, hits_at_10, hits_cold_at_10 per test row
        "a0": [(2, 1, 2, 1), (2, 0, 1, 0)],  # warm 2/3, cold 1/1, cold share 1/4
        "a1": [(2, 1, 1, 0), (2, 0, 2, 0)],  # warm 3/3, cold 0/1
        "b0": [(2, 1, 0, 0), (2, 0, 0, 0)],
    }
    tables = {rid: pd.DataFrame(v, columns=list(diagnostics.XMR_COLUMNS))
              for rid, v in xmr_pq.items()}
    tables["q9"] = pd.DataFrame({"seen": [1, 1, 0, 0], "prefix_matches_label": [1, 1, 1, 0],
                                 "reciprocal_rank": [1.0, 0.0, 0.0, 0.0]})
    tables["m0"] = pd.DataFrame({"seen": [1, 1, 0, 0], "prefix_matches_label": [1, 1, 1, 0],
                                 "reciprocal_rank": [0.5, 0.5, 0.0, 0.0]})
    tables["old"] = pd.DataFrame({"reciprocal_rank": [1.0]})  # written before the columns
    df = diagnostics.table(runs, per_query=tables.get).set_index("model")
    xr = df.loc["xrlinear"]
    assert xr["n_seeds"] == 2
    assert xr["recall_at_10_warm"] == pytest.approx((2 / 3 + 1) / 2)
    assert xr["recall_at_10_cold"] == pytest.approx(0.5)
    assert xr["cold_share"] == pytest.approx(0.25)
    assert df.loc["dual_encoder", "recall_at_10_warm"] == 0
    r9 = df.loc["row 9"]
    assert (r9["mrr_at_10_seen"], r9["success_at_10_seen"]) == (0.5, 0.5)
    assert (r9["mrr_at_10_unseen"], r9["unseen_share"]) == (0.0, 0.5)
    assert r9["no_label_prefix_share"] == 0.25
    assert df.loc["MPC", "mrr_at_10_seen"] == 0.5 and df.loc["MPC", "success_at_10_seen"] == 1
    assert df.loc["row 7", "note"] == diagnostics.NOT_RECORDED
    assert df.loc["row 7", "n_seeds"] == 0
    assert "other" not in set(df["preset"])  # only the comparison presets
    md = diagnostics.markdown(df.reset_index())
    assert "## Paper 1: product search" in md and "## Paper 2: autocompletion" in md
    assert "| paper1_comparison | hd | xrlinear | 2 | 0.833 | 0.500 | 0.250 |  |" in md
