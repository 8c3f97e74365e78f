"""LibMultiLabel as a benchmark side: `benchmarks.ovr_vs_lml`, the LibMultiLabel worker
(`benchmarks/_lml_worker.py`) and its sides in `benchmarks.scale` and `benchmarks.vs_pecos`,
on tiny problems (no timings are asserted).

The worker runs only with LibMultiLabel's venv (`make lml-venv`); otherwise those tests skip.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from benchmarks import _lml_worker, ovr_vs_lml, scale, vs_pecos
from tests.bench.test_vs_pecos import _tiny

N_TEST, N_LABELS = 40, 24  # _tiny()'s test rows and labels


@pytest.fixture
def lml_python():
    exe = scale.lml_python()
    if exe is None:
        pytest.skip("no .lml-venv: run `make lml-venv` (or set XMR_LML_PYTHON)")
    return exe


@pytest.fixture
def folder(tmp_path):
    return vs_pecos.write_matrices(_tiny(), tmp_path / "data")


# ------------------------------------------------------------------ alternation of the sides
def test_alternating_order_is_a_b_a_b():
    assert ovr_vs_lml.alternating_order(3) == [
        ("ovr", 0), ("lml_1vsrest", 0), ("ovr", 1), ("lml_1vsrest", 1),
        ("ovr", 2), ("lml_1vsrest", 2)]
    assert ovr_vs_lml.alternating_order(2, ("b", "a")) == [("b", 0), ("a", 0), ("b", 1),
                                                            ("a", 1)]


def _fake(calls: list, side: str, train_s: float, p1: float = 0.5, fail: str | None = None):
    def run(folder, timeout_s=None):
        calls.append(side)
        if fail == "timeout":
            raise scale.SideTimeout(f"{side} side: did not finish in {timeout_s:.0f} s")
        if fail == "skip":
            return {"skipped": "no .lml-venv"}
        return {"train_s": train_s * len(calls), "peak_mem_mib": 100.0,
                "peak_mem_train_mib": 90.0, "throughput_qps": 1000.0, "precision_at_1": p1,
                "precision_at_5": 0.3, "recall_at_10": 0.6, "model_nnz": 50}
    return run


def test_run_alternating_calls_the_sides_in_turn(folder):
    calls: list = []
    runs = ovr_vs_lml.run_alternating(folder, 3, {"ovr": _fake(calls, "ovr", 1.0),
                                                  "lml_1vsrest": _fake(calls, "lml", 1.0)})
    assert calls == ["ovr", "lml"] * 3
    assert [r["repeat"] for r in runs["ovr"]] == [0, 1, 2]
    assert all("load_average_before" in r for r in runs["lml_1vsrest"])


@pytest.mark.parametrize("fail, key", [("skip", "skipped"), ("timeout", "did_not_finish")])
def test_a_skipped_or_stopped_side_is_not_run_again(folder, fail, key):
    calls: list = []
    runs = ovr_vs_lml.run_alternating(folder, 3, {"ovr": _fake(calls, "ovr", 1.0),
                                                  "lml_1vsrest": _fake(calls, "lml", 1.0,
                                                                       fail=fail)}, 7)
    assert calls == ["ovr", "lml", "ovr", "ovr"]
    assert len(runs["lml_1vsrest"]) == 1 and key in runs["lml_1vsrest"][0]
    summary = ovr_vs_lml.summarise(runs["lml_1vsrest"])
    assert key in summary and "train_s" not in summary
    assert ovr_vs_lml.ratios(ovr_vs_lml.summarise(runs["ovr"]), summary) == {}


def test_summary_takes_medians_and_keeps_completed_repeats():
    runs = [{"train_s": t, "peak_mem_mib": m, "throughput_qps": 10.0 * t,
             "precision_at_1": 0.5, "recall_at_10": 0.7, "repeat": i}
            for i, (t, m) in enumerate([(3.0, 10.0), (1.0, 30.0), (2.0, 20.0)])]
    s = ovr_vs_lml.summarise(runs)
    assert (s["train_s"], s["peak_mem_mib"], s["throughput_qps"]) == (2.0, 20.0, 20.0)
    assert s["train_s_runs"] == [3.0, 1.0, 2.0] and "repeat" not in s
    stopped = ovr_vs_lml.summarise(runs[:2] + [{"did_not_finish": "too slow"}])
    assert stopped["train_s"] == 2.0 and stopped["incomplete"] == "too slow"


@pytest.mark.parametrize("ours, peer, holds", [
    ({"train_s": 1.0, "precision_at_1": 0.800}, {"train_s": 2.0, "precision_at_1": 0.804}, True),
    ({"train_s": 1.0, "precision_at_1": 0.790}, {"train_s": 2.0, "precision_at_1": 0.800}, False),
    ({"train_s": 3.0, "precision_at_1": 0.800}, {"train_s": 2.0, "precision_at_1": 0.800}, False),
])
def test_ratios_and_the_bar(ours, peer, holds):
    acc = {"precision_at_5": 0.3, "recall_at_10": 0.5}
    r = ovr_vs_lml.ratios(ours | acc, peer | acc)
    assert r["train_s"] == pytest.approx(ours["train_s"] / peer["train_s"])
    assert r["precision_at_1_diff"] == pytest.approx(ours["precision_at_1"]
                                                     - peer["precision_at_1"])
    assert r["holds"] is holds


def test_main_writes_the_json_with_ratios_from_one_run(monkeypatch, tmp_path):
    calls: list = []
    monkeypatch.setitem(vs_pecos.LOADERS, "dense", lambda data_dir: _tiny())
    monkeypatch.setattr(ovr_vs_lml, "run_ovr",
                        lambda f, model, t=None: _fake(calls, "ovr", 1.0, p1=0.8)(f, t))
    monkeypatch.setattr(ovr_vs_lml, "run_lml",
                        lambda f, options, t=None: _fake(calls, "lml", 2.0, p1=0.8)(f, t))
    out = tmp_path / "r.json"
    result = ovr_vs_lml.main(["--dataset", "dense", "--repeats", "3", "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert calls == ["ovr", "lml"] * 3
    # train_s is 1.0 / 2.0 times the call number: medians 3 (calls 1, 3, 5) and 8 (2, 4, 6)
    assert result["ovr"]["train_s"] == 3.0 and result["lml_1vsrest"]["train_s"] == 8.0
    assert result["ratio"]["train_s"] == pytest.approx(3 / 8)
    assert result["ratio"]["holds"] is True
    assert result["settings"]["order"][:2] == [["ovr", 0], ["lml_1vsrest", 0]]
    assert result["settings"]["ovr"]["lanes"] is None  # OVRLinear's auto lanes by default
    result = ovr_vs_lml.main(["--dataset", "dense", "--repeats", "1", "--lanes", "1",
                              "--out", str(out)])
    assert result["settings"]["ovr"]["lanes"] == 1
    assert result["settings"]["ovr"]["threshold"] == ovr_vs_lml.OVR_THRESHOLD
    assert result["settings"]["lml_1vsrest"]["options"] == ovr_vs_lml.LML_OPTIONS
    assert result["settings"]["data"]["n_labels"] == N_LABELS
    assert "at least as fast at equal P@1 (within 0.5 point): yes" in ovr_vs_lml.markdown_table(
        result)


@pytest.mark.parametrize("argv", [["--repeats", "0"], ["--threshold", "-0.1"],
                                  ["--side-timeout", "0"], ["--lanes", "0"]])
def test_bad_arguments_are_refused(argv):
    with pytest.raises(SystemExit):
        ovr_vs_lml.parse_args(["--dataset", "dense", "--out", "x.json", *argv])


# ------------------------------------------------------------------------ the workers
@pytest.mark.parametrize("lanes, used", [(None, 8), (1, 1), (3, 3)])
def test_our_ovr_worker_on_a_tiny_problem(folder, lanes, used):
    out = ovr_vs_lml.run_ovr(folder, ovr_vs_lml.ovr_model(0.0, lanes))
    for key in ("train_s", "peak_mem_mib", "peak_mem_train_mib", "throughput_qps",
                "model_nnz"):
        assert out[key] > 0, key
    assert out["lanes"] == used  # the lanes solver runs by default (8 on a few features)
    assert f"lanes {used})" in ovr_vs_lml.markdown_table(
        {"dataset": "tiny", "ovr": out, "lml_1vsrest": {"skipped": "no venv"}, "ratio": {}})
    P = sp.load_npz(folder / "P_ovr.npz")
    assert P.shape == (N_TEST, N_LABELS) and np.diff(P.indptr).max() <= ovr_vs_lml.TOPK
    assert out["precision_at_1"] > 0.5  # learnt something


@pytest.mark.parametrize("method", _lml_worker.METHODS)
def test_lml_worker_on_a_tiny_problem(lml_python, folder, method):
    out = scale.run_lml(folder, method)
    for key in ("train_s", "peak_mem_mib", "peak_mem_train_mib", "throughput_qps",
                "model_nnz", "precision_at_1", "recall_at_10"):
        assert out[key] > 0, key
    assert out["method"] == f"libmultilabel.linear.train_{method}"
    assert out["options"] == _lml_worker.DEFAULTS["options"]
    P = sp.load_npz(folder / f"P_lml_{method}.npz")
    assert P.shape == (N_TEST, N_LABELS) and np.diff(P.indptr).max() <= 10
    assert out["precision_at_1"] > 0.5


def test_lml_worker_takes_settings_and_refuses_unknown_ones(lml_python, folder):
    out = scale.run_lml(folder, "1vsrest", settings={"options": "-s 1 -B 1 -e 0.1 -q",
                                                     "topk": 3})
    assert out["options"] == "-s 1 -B 1 -e 0.1 -q"
    assert np.diff(sp.load_npz(folder / "P_lml_1vsrest.npz").indptr).max() == 3
    with pytest.raises(RuntimeError, match=r"unknown settings \['beam'\]"):
        scale.run_lml(folder, "tree", settings={"beam": 5})


def test_without_the_venv_the_sides_are_skipped(folder, monkeypatch, tmp_path):
    monkeypatch.setenv("XMR_LML_PYTHON", str(tmp_path / "no-such-python"))
    assert scale.lml_python() is None
    assert "make lml-venv" in scale.run_lml(folder, "tree")["skipped"]
    assert "make lml-venv" in ovr_vs_lml.run_lml(folder, "-s 1")["skipped"]


def test_dense_weights_too_large_are_refused():
    assert _lml_worker.dense_weights_refusal(999, 1000, available_mib=100.0) is None
    why = _lml_worker.dense_weights_refusal(99_999, 100_000, available_mib=1000.0)
    assert "76,294 MiB" in why and "1,000 MiB available" in why


def test_top_k_of_dense_scores():
    S = np.array([[0.1, 0.9, -0.5, 0.3], [0.0, 0.0, 0.2, 0.0]])
    P = _lml_worker.top_k(S, 2, positive_only=False)
    np.testing.assert_allclose(P.toarray(), [[0, 0.9, 0, 0.3], [0, 0, 0.2, 0]], rtol=1e-6)
    assert P[1].nnz == 2  # a score of 0 is a score here ...
    P = _lml_worker.top_k(S, 2, positive_only=True)
    assert P[1].nnz == 1  # ... and "not reached" for train_tree


def test_prediction_blocks_give_the_unblocked_result(monkeypatch):
    rng = np.random.default_rng(0)
    X = sp.csr_matrix(rng.random((23, 5)))
    W = rng.standard_normal((5, 7))

    def predict(Xb):
        return Xb @ W

    whole = _lml_worker.predict_top_k(predict, X, 7, 7, 3, positive_only=False)
    monkeypatch.setattr(_lml_worker, "PREDICT_BLOCK_ENTRIES", 20)  # 2 rows per block
    blocked = _lml_worker.predict_top_k(predict, X, 7, 7, 3, positive_only=False)
    assert (whole != blocked).nnz == 0 and whole.shape == (23, 7)


# ------------------------------------------------------------- sides in scale and vs_pecos
def test_scale_runs_the_lml_sides_and_records_skips(monkeypatch, tmp_path):
    calls: list = []
    monkeypatch.setattr(scale, "run_lml", lambda f, method, t=None, s=None: (
        calls.append(method), {"skipped": f"{method}: needs 9 GiB"})[1])
    data_dir = tmp_path / "cache" / "L50"
    data_dir.mkdir(parents=True)
    monkeypatch.setattr(scale, "prepare", lambda *a: {"n_train": 100, "n_features": 10,
                                                      "x_trn_nnz": 1})
    result = scale.main(["--sizes", "50", "--n-test", "10", "--sides", "lml_tree",
                         "lml_1vsrest", "--cache-dir", str(tmp_path / "cache"),
                         "--out", str(tmp_path / "s.json")])
    assert calls == ["tree", "1vsrest"]
    row = result["sizes"][0]
    assert row["lml_1vsrest"]["skipped"] == "1vsrest: needs 9 GiB"
    assert "| train_s | skipped | skipped |" in scale.markdown_table(result)


def test_vs_pecos_alternates_ours_and_the_lml_sides(monkeypatch, folder):
    import xmr

    order = []
    fit = xmr.XRLinear.fit
    monkeypatch.setattr(xmr.XRLinear, "fit", lambda self, *a, **k: (order.append("xmr"),
                                                                      fit(self, *a, **k))[1])
    monkeypatch.setattr(scale, "run_lml", lambda f, method, t=None: (
        order.append(method), {"train_s": 1.0, "throughput_qps": 5.0})[1])
    monkeypatch.setitem(vs_pecos.MODEL, "max_leaf_size", 4)
    monkeypatch.setitem(vs_pecos.MODEL, "nr_splits", 2)
    *_, lml_runs = vs_pecos.fit_interleaved(_tiny(), 2, "xmr", False,
                                            lml_methods=("tree", "1vsrest"), lml_dir=folder)
    assert order == ["xmr", "tree", "1vsrest"] * 2
    assert [len(r) for r in lml_runs.values()] == [2, 2]


def test_vs_pecos_reports_the_lml_sides_with_their_ratios(monkeypatch, tmp_path):
    monkeypatch.setitem(vs_pecos.LOADERS, "dense", lambda data_dir: _tiny())
    monkeypatch.setitem(vs_pecos.MODEL, "max_leaf_size", 4)
    monkeypatch.setitem(vs_pecos.MODEL, "nr_splits", 2)
    seen = []

    def fake(folder, method, timeout_s=None):
        seen.append(sorted(p.name for p in folder.iterdir()))
        if method == "1vsrest":
            return {"skipped": "dense weights need 9 GiB"}
        return {"train_s": 2.0, "throughput_qps": 10.0, "peak_mem_mib": 50.0,
                "precision_at_1": 0.5, "precision_at_5": 0.2, "recall_at_10": 0.4,
                "model_nnz": 100}
    monkeypatch.setattr(scale, "run_lml", fake)
    result = vs_pecos.main(["--dataset", "dense", "--repeats", "2", "--sides", "xmr",
                            "--out", str(tmp_path / "d.json")])
    assert seen[0] == ["X_trn.npz", "X_tst.npz", "Y_trn.npz", "Y_tst.npz"]
    assert len(seen) == 3  # the skipped side ran once
    assert result["lml_tree"]["train_s_runs"] == [2.0, 2.0]
    ratio = result["ratio_lml"]["lml_tree"]
    assert ratio["train_s"] == pytest.approx(result["xmr"]["train_s"] / 2.0)
    assert ratio["precision_at_1_diff"] == pytest.approx(result["xmr"]["precision_at_1"] - 0.5)
    assert result["ratio_lml"]["lml_1vsrest"] == {}
    table = vs_pecos.markdown_table(result)
    assert "xmr vs LibMultiLabel" in table and "lml_1vsrest: dense weights need 9 GiB" in table
    none = vs_pecos.main(["--dataset", "dense", "--repeats", "1", "--sides", "xmr",
                          "--lml-sides", "--out", str(tmp_path / "n.json")])
    assert "lml_tree" not in none and "ratio_lml" not in none and len(seen) == 3
