"""Parity with the real PECOS (libpecos 1.2.8 in .peer-venv), the issue's acceptance bar:

(a) trained on the same tree with the same features: mean top-10 overlap >= 0.95 and
    P@1 / P@5 within 0.5 point;
(b) each with its own indexer: our P@1 and P@5 at least PECOS's minus 1.0 point.

On Bibtex (rows l2-normalised) and on a synthetic product-search set.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import normalize

import xmr
from baselines.pecos_peer import PecosXRLinear
from xmr.datasets.synthetic import make_product_search
from xmr.features import TextFeaturizer

pytestmark = [pytest.mark.peer, pytest.mark.slow]


def _bibtex(root):
    d = root / "bibtex" / "npz"
    if not d.is_dir():
        pytest.skip(f"Bibtex npz files not found in {d}")

    def x(name):
        return normalize(sp.load_npz(d / name).astype(np.float32)).astype(np.float32).tocsr()

    return (x("X.trn.npz"), sp.load_npz(d / "Y.trn.npz").tocsr(), x("X.tst.npz"),
            sp.load_npz(d / "Y.tst.npz").tocsr())


def _synthetic():
    data = make_product_search(n_products=3000, n_train=15000, n_test=3000, seed=1)
    feat = TextFeaturizer(word_ngram_range=(1, 2), char_ngram_range=(3, 3))
    X = feat.fit_transform(data.train_texts)
    return X, data.Y_train, feat.transform(data.test_texts), data.Y_test


def top10_overlap(P: sp.csr_matrix, Q: sp.csr_matrix) -> float:
    """Mean over rows of |ours ∩ theirs| / |theirs| for the top-10 label sets."""
    a, b = xmr.topk_labels(P, 10), xmr.topk_labels(Q, 10)
    shares = []
    for ra, rb in zip(a, b, strict=True):
        theirs = set(rb[rb >= 0].tolist())
        shares.append(len(set(ra[ra >= 0].tolist()) & theirs) / len(theirs) if theirs else 1.0)
    return float(np.mean(shares))


@pytest.fixture(scope="module", params=["bibtex", "synthetic"])
def runs(request, peer_python):
    if request.param == "bibtex":
        X, Y, Xt, Yt = _bibtex(request.getfixturevalue("shared_data"))
    else:
        X, Y, Xt, Yt = _synthetic()
    with PecosXRLinear(peer_python=peer_python) as pecos:
        pecos.fit(X, Y)
        theirs = pecos.predict(Xt, beam_size=10, topk=10)
        tree = pecos.tree_
    same_tree = xmr.XRLinear(allow_empty=True).fit(X, Y, tree=tree).predict(Xt)
    own_tree = xmr.XRLinear(allow_empty=True).fit(X, Y).predict(Xt)
    return request.param, Yt, theirs, same_tree, own_tree


def test_same_tree_top10_overlap(runs):
    name, _, theirs, same_tree, _ = runs
    overlap = top10_overlap(same_tree, theirs)
    print(f"{name}: top-10 overlap with PECOS on the same tree = {overlap:.4f}")
    assert overlap >= 0.95


@pytest.mark.parametrize("k", [1, 5])
def test_same_tree_precision_within_half_point(runs, k):
    name, Yt, theirs, same_tree, _ = runs
    ours, ref = xmr.precision_at_k(Yt, same_tree, k), xmr.precision_at_k(Yt, theirs, k)
    print(f"{name}: P@{k} ours {ours:.4f} PECOS {ref:.4f}")
    assert abs(ours - ref) <= 0.005


@pytest.mark.parametrize("k", [1, 5])
def test_own_indexer_precision_not_worse_than_one_point(runs, k):
    name, Yt, theirs, _, own_tree = runs
    ours, ref = xmr.precision_at_k(Yt, own_tree, k), xmr.precision_at_k(Yt, theirs, k)
    print(f"{name}: own trees: P@{k} ours {ours:.4f} PECOS {ref:.4f}")
    assert ours >= ref - 0.01
