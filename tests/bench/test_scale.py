"""The scale benchmark's machinery on a tiny size (no timings are asserted).

PECOS runs only with the peer venv (`make peer`), Omikuji / napkinXC only with `.xmc-venv`
(`make xmc-venv`); otherwise those parts skip.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import _scale_worker, scale

N_LABELS, N_TEST = 200, 60


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scale") / f"L{N_LABELS}"
    scale.prepare(N_LABELS, N_TEST, 0, folder)
    return folder


def test_prepare_writes_the_matrices_once(data_dir):
    meta = json.loads((data_dir / "data.json").read_text())
    assert meta["n_train"] == 2 * N_LABELS and meta["n_test"] == N_TEST
    X = _scale_worker.load_csr(data_dir / "X_trn.npz")
    Y = _scale_worker.load_csr(data_dir / "Y_trn.npz")
    assert X.shape == (2 * N_LABELS, meta["n_features"]) and Y.shape == (2 * N_LABELS, N_LABELS)
    np.testing.assert_allclose(np.sqrt(X.multiply(X).sum(axis=1)).A1, 1.0, rtol=1e-5)
    stamp = (data_dir / "X_trn.npz").stat().st_mtime_ns
    scale.prepare(N_LABELS, N_TEST, 0, data_dir)  # same request: reused, not redrawn
    assert (data_dir / "X_trn.npz").stat().st_mtime_ns == stamp


def test_xmr_side_reports_every_figure(data_dir):
    out = scale.run_xmr(data_dir)
    for key in ("train_s", "peak_mem_mib", "peak_mem_train_mib", "throughput_qps",
                "latency_p50_ms", "latency_p99_ms", "precision_at_1", "recall_at_10",
                "model_nnz", "model_bytes"):
        assert out[key] > 0, key
    assert out["peak_mem_mib"] >= out["peak_mem_train_mib"]
    assert out["n_latency_queries"] == N_TEST
    assert out["precision_at_1"] > 0.3  # learnt something (random would be ~1/200)


def test_peak_rss_is_this_process():
    before = _scale_worker.peak_rss_mib()
    block = np.ones(64 * 2**20 // 8)  # 64 MiB touched
    assert _scale_worker.peak_rss_mib() >= before + 60 or before > 64
    del block


def test_fitted_slope_of_a_power_law():
    sizes = [1e3, 1e4, 1e5]
    assert scale.fitted_slope(sizes, [2 * s ** 1.5 for s in sizes]) == pytest.approx(1.5)
    assert scale.fitted_slope(sizes, [None, None, 3.0]) is None


def test_main_one_run_json_table_and_figure(data_dir, tmp_path, peer_python):
    out = tmp_path / "scale.json"
    result = scale.main(["--sizes", str(N_LABELS), "--sides", "xmr", "pecos",
                         "--n-test", str(N_TEST), "--cache-dir", str(data_dir.parent),
                         "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert out.with_suffix(".png").stat().st_size > 0
    row = result["sizes"][0]
    assert row["pecos"]["peak_mem_mib"] > 0 and row["pecos"]["model_nnz"] > 0
    assert set(row["ratio"]) >= {"train_s", "peak_mem_mib", "throughput_qps"}
    assert abs(row["ratio"]["precision_at_1_diff"]) < 0.1


@pytest.mark.parametrize("lib", ["omikuji", "napkinxc"])
def test_other_libraries(data_dir, lib):
    if scale.xmc_python() is None:
        pytest.skip("no .xmc-venv: run `make xmc-venv` (or set XMR_XMC_PYTHON)")
    out = scale.run_peer(data_dir, lib)
    for key in ("train_s", "peak_mem_mib", "throughput_qps", "precision_at_1", "recall_at_10"):
        assert out[key] > 0, key
    assert out["precision_at_1"] > 0.3


def test_bad_sizes_are_refused():
    with pytest.raises(SystemExit):
        scale.parse_args(["--sizes", "1"])
