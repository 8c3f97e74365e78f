"""The task shapes: a QAC split's per-request user and session ids."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from xmr.datasets.tasks import QACSplit


def _split(**ids) -> QACSplit:
    return QACSplit(prev_queries=["a", "b"], prefixes=["c", "d"], next_queries=["cd", "de"],
                    **ids)


def test_ids_are_optional_int64_and_compared():
    plain = _split()
    assert plain.user_ids is None and plain.session_ids is None
    with_ids = _split(user_ids=[3, 3], session_ids=np.array([7, 8], dtype=np.int32))
    assert with_ids.user_ids.dtype == with_ids.session_ids.dtype == np.int64
    assert with_ids.session_ids.tolist() == [7, 8]
    assert with_ids == _split(user_ids=[3, 3], session_ids=[7, 8])
    assert with_ids != _split(user_ids=[3, 4], session_ids=[7, 8])
    assert with_ids != plain
    assert pickle.loads(pickle.dumps(with_ids)) == with_ids
    empty = QACSplit(prev_queries=[], prefixes=[], next_queries=[], user_ids=[], session_ids=[])
    assert empty.user_ids.dtype == np.int64 and empty.n == 0


@pytest.mark.parametrize("ids, error, match", [
    ({"user_ids": [1]}, ValueError, r"user_ids must hold one id per example \(2\), got shape"),
    ({"session_ids": [[1, 2]]}, ValueError, "session_ids must hold one id per example"),
    ({"user_ids": [0.5, 1.0]}, TypeError, "user_ids must be integers, got dtype float64"),
])
def test_bad_ids_are_refused(ids, error, match):
    with pytest.raises(error, match=match):
        _split(**ids)
