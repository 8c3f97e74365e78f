"""`benchmarks.vs_pecos`'s machinery on a tiny problem (no timings are asserted)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from benchmarks import vs_pecos


def _tiny() -> vs_pecos.Data:
    from sklearn.preprocessing import normalize

    rng = np.random.default_rng(0)
    n, d, L = 240, 40, 24
    dense = rng.random((n, L)) < 0.15
    dense[~dense.any(axis=1), 0] = True  # every row has a label
    Y = sp.csr_matrix(dense.astype(np.float32))
    X = normalize(sp.csr_matrix(Y @ sp.random(L, d, density=0.3, random_state=0)
                                + sp.random(n, d, density=0.05, random_state=1)))
    csr = vs_pecos._csr32
    return vs_pecos.Data(X_trn=csr(X[:200]), Y_trn=csr(Y[:200]), X_tst=csr(X[200:]),
                         Y_tst=csr(Y[200:]), info={"source": "test"})


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(vs_pecos.LOADERS, "dense", lambda data_dir: _tiny())
    monkeypatch.setitem(vs_pecos.MODEL, "max_leaf_size", 4)
    monkeypatch.setitem(vs_pecos.MODEL, "nr_splits", 2)


def test_training_repeats_alternate_between_the_sides(tiny, peer_python, monkeypatch):
    import xmr
    from baselines.pecos_peer import PecosXRLinear

    order = []
    for cls, side in ((PecosXRLinear, "pecos"), (xmr.XRLinear, "xmr")):
        fit = cls.fit
        monkeypatch.setattr(cls, "fit", lambda self, *a, _f=fit, _s=side, **k:
                            (order.append(_s), _f(self, *a, **k))[1])
    peer, peer_fits, ours, our_fits, lml_runs = vs_pecos.fit_interleaved(_tiny(), 3, "both",
                                                                         False)
    peer.close()
    assert order == ["pecos", "xmr"] * 3 and lml_runs == {}
    assert len(peer_fits) == len(our_fits) == 3
    assert all(f["train_s"] > 0 for f in peer_fits + our_fits)


def test_main_writes_both_sides_and_their_ratios(tiny, peer_python, tmp_path):
    out = tmp_path / "dense.json"
    result = vs_pecos.main(["--dataset", "dense", "--repeats", "1", "--lml-sides",
                            "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    for side in ("xmr", "pecos"):
        assert len(result[side]["train_s_runs"]) == 1
        assert result[side]["precision_at_1"] > 0.2  # learnt something
    assert set(result["ratio"]) == set(vs_pecos.REPORT_KEYS)


def test_same_tree_trains_ours_on_the_peers_tree(tiny, peer_python, tmp_path):
    result = vs_pecos.main(["--dataset", "dense", "--repeats", "1", "--same-tree",
                            "--lml-sides", "--out", str(tmp_path / "t.json")])
    assert result["xmr"]["tree_shapes"] == result["pecos"]["tree_shapes"]


def test_one_side_has_no_ratios(tiny, tmp_path):
    result = vs_pecos.main(["--dataset", "dense", "--repeats", "1", "--sides", "xmr",
                            "--lml-sides", "--out", str(tmp_path / "x.json")])
    assert result["pecos"] is None and result["ratio"] == {}


@pytest.mark.parametrize("value, kwargs, text", [
    (None, {}, "–"), (12345, {}, "12,345"), (1234.6, {}, "1,235"), (0.123456, {}, "0.1235"),
    (2.5, {"sig": 3, "small_decimals": 4}, "2.5"),
    (0.05, {"sig": 3, "small_decimals": 4}, "0.0500")])
def test_table_cells(value, kwargs, text):
    assert vs_pecos.fmt_number(value, **kwargs) == text
