"""Bad input to the linear models that used to pass with a warning or crash raw (issue 22,
point 6): rows that are not l2-normalised, a threshold that prunes every weight, saving to a
path that is a file. Each ends in an error that says what happened and what to do."""

from __future__ import annotations

import re
import warnings
from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp
from _toy import random_problem, separable_problem

from baselines.ovr_linear import OVRLinear, select_threshold
from xmr import TextFeaturizer, XRLinear
from xmr._validation import TINY_SQNORM, check_unit_rows
from xmr.datasets.dense_multilabel import make_dense_multilabel
from xmr.features import PerOrderFeaturizer
from xmr.qac.features import QACVectorizer
from xmr.sharded import fit_sharded

FAST = dict(nr_splits=2, max_leaf_size=4, n_jobs=1)
MODELS = {"XRLinear": lambda **kw: XRLinear(**FAST, **kw),
          "OVRLinear": lambda **kw: OVRLinear(n_jobs=1, **kw)}


@cache
def data():
    return random_problem(40, 30, 12, seed=8)


@cache
def fitted(kind: str, threshold: float = 0.0):
    return MODELS[kind](threshold=threshold).fit(*data())


def scaled_row(X: sp.csr_matrix, row: int, factor: float) -> sp.csr_matrix:
    X = X.copy()
    X.data[X.indptr[row]:X.indptr[row + 1]] *= factor
    return X


# ------------------------------------------------------------- rows not l2-normalised
@pytest.mark.parametrize("kind", MODELS)
def test_fit_refuses_rows_that_are_not_unit(kind):
    X, Y = data()
    norm = float(np.sqrt((X.getrow(7).data.astype(np.float64) ** 2).sum())) * 3.0
    with pytest.raises(ValueError, match=(
            rf"X must have l2-normalised rows .* row 7 has norm {norm:.6g} \(1 of 40 rows "
            r"are off.*sklearn\.preprocessing\.normalize\(X\)")) as info:
        MODELS[kind]().fit(scaled_row(X, 7, 3.0), Y)
    assert "featurizers" in str(info.value)
    with pytest.raises(ValueError, match=r"row 0 has norm 1000 \(40 of 40 rows"):
        MODELS[kind]().fit(X * 1000.0, Y)


@pytest.mark.parametrize("kind", MODELS)
def test_predict_refuses_rows_that_are_not_unit(kind):
    X, _ = data()
    model = fitted(kind)
    with pytest.raises(ValueError, match=r"row 3 has norm 0\.5 "):
        model.predict(scaled_row(X, 3, 0.5))
    model.predict(X)  # unit rows: fine


@pytest.mark.parametrize("kind", MODELS)
def test_empty_and_nearly_unit_rows_are_accepted(kind):
    X, Y = data()
    # an all-zero row (an empty query), a row within the tolerance and a row of squared norm
    # below float32 epsilon (the featurizers, like PECOS, leave such rows unscaled)
    tiny = np.sqrt(TINY_SQNORM) / 2
    X = sp.vstack([X, sp.csr_matrix((1, X.shape[1]), dtype=np.float32),
                   scaled_row(X, 0, 1.0005)[0], scaled_row(X, 0, tiny)[0]]).tocsr()
    Y = sp.vstack([Y, Y[:3]]).tocsr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MODELS[kind]().fit(X, Y).predict(X)


def test_select_threshold_refuses_rows_that_are_not_unit():
    X, Y = data()
    with pytest.raises(ValueError, match=r"X must have l2-normalised rows .* row 2 "):
        select_threshold(scaled_row(X, 2, 2.0), Y, valid_fraction=0.25)


def test_the_projects_featurizers_and_data_give_unit_rows():
    # what the check refuses must never be what the project itself produces
    texts = ["red running shoes", "blue shoes", "garden hose 50 ft", "hose reel", "zzz",
             "red hose", "running", ""]
    for feat in (TextFeaturizer(), TextFeaturizer(char_ngram_range=None, sublinear_tf=True),
                 TextFeaturizer(idf="sklearn"), PerOrderFeaturizer()):
        check_unit_rows(feat.fit(texts).transform(texts + ["unknown words only"]))
    qac = QACVectorizer().fit(texts, ["re", "bl", "ga", "ho", "z", "r", "ru", "x"])
    check_unit_rows(qac.transform(["", "red", "blue shoes"], ["", "re", "h"]))
    dense = make_dense_multilabel(n_train=50, n_test=10, n_features=40, n_labels=30)
    check_unit_rows(dense.X_train)
    check_unit_rows(dense.X_test)


# ------------------------------------------------------- a threshold that prunes everything
@pytest.mark.parametrize("kind", MODELS)
def test_fit_refuses_a_threshold_that_prunes_every_weight(kind):
    model = MODELS[kind](threshold=100.0)
    with pytest.raises(ValueError, match=(rf"threshold 100\.0 prunes every weight of this "
                                          rf"{kind} \(model_nnz_ would be 0.*use a smaller "
                                          r"threshold")):
        model.fit(*data())
    assert not hasattr(model, "weights_")  # left unfitted


@pytest.mark.parametrize("kind", MODELS)
def test_prune_refuses_a_threshold_above_every_weight(kind):
    model = fitted(kind)
    weights = model.weights_ if kind == "XRLinear" else [model.weights_]
    largest = max(float(np.abs(W.data).max()) for W in weights)
    with pytest.raises(ValueError, match=(rf"threshold 5\.0 prunes every weight \(largest "
                                          rf"\|w\| = {largest:.6g}\); use a threshold below "
                                          r"that")):
        model.prune(5.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the lower levels of XR-Linear are emptied)
        assert model.prune(largest).model_nnz_ >= 1  # |w| >= threshold is kept


def test_sharded_fit_refuses_a_threshold_that_prunes_every_weight():
    class InProcess:  # the engine contract, without processes
        threads_per_task = 1

        def map(self, fn, arglists):
            return [fn(*args) for args in arglists]

    X, Y = random_problem(120, 40, 48, seed=5)
    with pytest.raises(ValueError, match=r"threshold 100\.0 prunes every weight"):
        fit_sharded(XRLinear(nr_splits=4, max_leaf_size=4, n_jobs=1, threshold=100.0), X, Y,
                    n_shards=2, engine=InProcess())


def _level_cut() -> tuple[float, int]:
    """A threshold that empties exactly one tree level of the threshold-0 model, and which."""
    level_max = [float(np.abs(W.data).max()) for W in fitted("XRLinear").weights_]
    low = int(np.argmin(level_max))
    assert sorted(level_max)[1] > level_max[low]  # the toy's levels differ
    return (level_max[low] + sorted(level_max)[1]) / 2, low + 1


def test_a_threshold_that_empties_one_level_warns():
    threshold, level = _level_cut()
    depth = len(fitted("XRLinear").weights_)
    msg = re.escape(f"threshold {threshold} prunes every weight of tree level(s) [{level}] "
                    f"of {depth}: the beam search ranks those levels' nodes by id")
    with pytest.warns(UserWarning, match=msg):
        pruned = fitted("XRLinear").prune(threshold)
    assert pruned.weights_[level - 1].nnz == 0 and pruned.model_nnz_ > 0
    with pytest.warns(UserWarning, match=msg):
        XRLinear(**FAST, threshold=threshold).fit(*data())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # some weight on every level: no warning
        fitted("XRLinear").prune(threshold / 10)


def test_select_threshold_still_scores_a_candidate_above_every_weight():
    X, Y = separable_problem(12)
    best, scores = select_threshold(X, Y, candidates=(0.0, 100.0), valid_fraction=0.25)
    assert best == 0.0 and scores[0.0] > scores[100.0]


# ------------------------------------------------------------ saving to an existing file
@pytest.mark.parametrize("kind", MODELS)
def test_save_to_an_existing_file_is_refused_before_writing(kind, tmp_path):
    target = tmp_path / "model"
    target.write_text("not a model")
    with pytest.raises(FileExistsError, match=(rf"cannot save the {kind} model to {target}: "
                                               r"it is an existing file, not a folder")):
        fitted(kind).save(target)
    assert target.read_text() == "not a model"
    with pytest.raises(NotADirectoryError, match=rf"{target} is an existing file, not a "
                                                 r"folder"):
        fitted(kind).save(target / "inside" / "model")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.parametrize("kind", MODELS)
def test_save_into_an_existing_folder_overwrites(kind, tmp_path):
    folder = tmp_path / "m"
    fitted(kind).save(folder)
    other = fitted(kind, 0.1)
    other.save(folder)
    back = type(other).load(folder)
    assert back.model_nnz_ == other.model_nnz_ != fitted(kind).model_nnz_
