"""The QAC training problem as qp2q builds it: one row per distinct input, Y multi-label."""

from __future__ import annotations

import numpy as np

from xmr.datasets.tasks import QACDataset, QACSplit


def _dataset() -> QACDataset:
    train = QACSplit(prev_queries=["cheap", "cheap", "cheap", "cheap", "", "news"],
                     prefixes=["fl", "fl", "fl", "ho", "fl", "fl"],
                     next_queries=["flights", "flowers", "flights", "hotels", "flights", "flu"])
    empty = QACSplit(prev_queries=[], prefixes=[], next_queries=[])
    return QACDataset(name="toy", splits={"train": train, "valid": empty, "test": empty})


def test_rows_are_distinct_inputs_and_y_is_binarised_multilabel():
    ds = _dataset()
    assert ds.labels == ["flights", "flowers", "flu", "hotels"]
    prev, prefixes, Y = ds.training_matrix("train")
    # ("cheap", "fl") three times -> one row; first-occurrence order
    assert list(zip(prev, prefixes)) == [("cheap", "fl"), ("cheap", "ho"), ("", "fl"),
                                         ("news", "fl")]
    assert Y.shape == (4, 4) and Y.dtype == np.float32
    assert Y.toarray().tolist() == [[1, 1, 0, 0],  # one input, two next queries (once each)
                                    [0, 0, 0, 1],
                                    [1, 0, 0, 0],
                                    [0, 0, 1, 0]]
    # one row per example, as before: the repeated pair is three rows, two of them opposite
    assert ds.label_matrix("train").shape == (6, 4)
