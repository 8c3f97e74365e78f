"""The scale benchmark's machinery on a tiny size (no timings are asserted).

PECOS runs only with the peer venv (`make peer`), Omikuji / napkinXC only with `.xmc-venv`
(`make xmc-venv`), LibMultiLabel only with `.lml-venv` (`make lml-venv`); otherwise those
parts skip.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

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


def test_sides_that_did_not_train_are_no_points_of_a_curve_and_say_why():
    """A skipped or stopped side's peak memory (a process that did not train) is left out of
    the slopes; the table gives a skipped side's reason under it."""
    rows = [{"n_labels": n, "data": {"n_train": 2 * n, "n_features": 10},
             "xmr": {"train_s": n / 1e3, "peak_mem_mib": n / 1e2},
             "lml_tree": ({"train_s": 5.0, "peak_mem_mib": 50.0} if n == 1000 else
                          {"skipped": "MemoryError: Not enough memory.", "peak_mem_mib": 9.0}
                          if n == 2000 else
                          {"did_not_finish": "stopped", "time_limit_s": 5.0, "peak_mem_mib": 1.0})}
            for n in (1000, 2000, 4000)]
    summary = scale.summarise(rows, ["xmr", "lml_tree"])
    assert summary["slopes"]["xmr"]["train_s"] == pytest.approx(1.0)
    assert summary["slopes"]["lml_tree"] == {"train_s": None, "peak_mem_mib": None}
    table = scale.markdown_table({"settings": {"sides": ["xmr", "lml_tree"]}, "sizes": rows,
                                  "summary": summary})
    assert "Skipped: lml_tree: MemoryError: Not enough memory." in table
    assert table.count("Skipped:") == 1 and "did not finish in 5 s" in table


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


@pytest.mark.parametrize("side", ["lml_tree", "lml_1vsrest"])
def test_libmultilabel_sides(data_dir, side):
    if scale.lml_python() is None:
        pytest.skip("no .lml-venv: run `make lml-venv` (or set XMR_LML_PYTHON)")
    out = scale.RUNNERS[side](data_dir)
    for key in ("train_s", "peak_mem_mib", "throughput_qps", "precision_at_1", "recall_at_10",
                "model_nnz"):
        assert out[key] > 0, key
    assert out["precision_at_1"] > 0.3


def test_bad_sizes_are_refused():
    with pytest.raises(SystemExit):
        scale.parse_args(["--sizes", "1"])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie has ended


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_side_past_its_time_limit_is_stopped_with_its_children(tmp_path):
    pid_file = tmp_path / "child.pid"
    code = ("import subprocess, sys, time; "
            "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
            f"open({str(pid_file)!r}, 'w').write(str(c.pid)); time.sleep(120)")
    with pytest.raises(scale.SideTimeout, match="sleeper: did not finish in 2 s"):
        scale._run([sys.executable, "-c", code], "sleeper", timeout_s=2)
    assert pid_file.is_file()
    child = int(pid_file.read_text())
    for _ in range(50):  # the kernel may take a moment to deliver
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child)


def test_a_failing_side_reports_its_error():
    code = "import sys; print('went wrong', file=sys.stderr); sys.exit(3)"
    with pytest.raises(RuntimeError, match=r"(?s)boom side failed \(exit 3\).*went wrong"):
        scale._run([sys.executable, "-c", code], "boom side")


def _fake_side(calls: list, name: str, *, timeout: bool = False, models: list | None = None):
    def run(folder, timeout_s=None, model=None):
        calls.append((name, folder.name, timeout_s))
        if models is not None:
            models.append((name, model))
        if timeout:
            raise scale.SideTimeout(f"{name} side: did not finish in {timeout_s:.0f} s")
        return {"train_s": 2.0, "peak_mem_mib": 100.0, "throughput_qps": 50.0,
                "precision_at_1": 0.5, "recall_at_10": 0.4}
    return run


def test_resume_runs_only_the_missing_sides_and_records_time_limits(data_dir, tmp_path,
                                                                     monkeypatch):
    calls: list = []
    monkeypatch.setattr(scale, "RUNNERS", {
        "xmr": _fake_side(calls, "xmr"), "pecos": _fake_side(calls, "pecos"),
        "omikuji": _fake_side(calls, "omikuji", timeout=True),
        "napkinxc": _fake_side(calls, "napkinxc")})
    out = tmp_path / "scale.json"
    common = ["--sizes", str(N_LABELS), "--n-test", str(N_TEST),
              "--cache-dir", str(data_dir.parent), "--out", str(out)]
    scale.main([*common, "--sides", "xmr"])
    assert calls == [("xmr", data_dir.name, None)]
    result = scale.main([*common, "--sides", "xmr", "pecos", "omikuji", "--resume",
                         "--side-timeout", "5"])
    assert calls[1:] == [("pecos", data_dir.name, 5.0), ("omikuji", data_dir.name, 5.0)]
    row = result["sizes"][0]
    assert row["omikuji"]["did_not_finish"] == "omikuji side: did not finish in 5 s"
    assert row["omikuji"]["time_limit_s"] == 5.0
    assert row["ratio"]["train_s"] == 1.0
    assert "did not finish in 5 s" in scale.markdown_table(result)
    # same limit: nothing reruns; a larger one retries the side that was stopped
    scale.main([*common, "--sides", "xmr", "pecos", "omikuji", "--resume",
                "--side-timeout", "5"])
    assert len(calls) == 3
    scale.main([*common, "--sides", "omikuji", "--resume", "--side-timeout", "50"])
    assert calls[3:] == [("omikuji", data_dir.name, 50.0)]
    scale.main([*common, "--sides", "xmr", "pecos", "--resume", "--redo", "xmr"])
    assert calls[4:] == [("xmr", data_dir.name, None)]
    # a file from other settings is refused, not mixed in
    with pytest.raises(SystemExit, match="other settings"):
        scale.main([*common, "--sides", "xmr", "--resume", "--n-test", str(N_TEST + 1)])


def test_nr_splits_reaches_the_model_settings_and_the_json(data_dir, tmp_path, monkeypatch):
    calls, models = [], []
    monkeypatch.setattr(scale, "RUNNERS", {side: _fake_side(calls, side, models=models)
                                           for side in scale.SIDES})
    out = tmp_path / "b2.json"
    common = ["--sizes", str(N_LABELS), "--n-test", str(N_TEST),
              "--cache-dir", str(data_dir.parent), "--out", str(out)]
    result = scale.main([*common, "--sides", "xmr", "pecos", "--nr-splits", "2"])
    assert [(side, m["nr_splits"]) for side, m in models] == [("xmr", 2), ("pecos", 2)]
    assert result["settings"]["nr_splits"] == 2
    with pytest.raises(SystemExit, match="other settings"):  # B=16 rows are not B=2 rows
        scale.main([*common, "--sides", "xmr", "--resume"])
    with pytest.raises(SystemExit):
        scale.parse_args(["--nr-splits", "1"])


def test_bad_side_timeout_is_refused():
    with pytest.raises(SystemExit):
        scale.parse_args(["--side-timeout", "0"])


def test_repeats_interleave_the_sides_and_record_medians_and_pair_ratios(data_dir, tmp_path,
                                                                         monkeypatch):
    order: list = []
    times = {"xmr": iter([3.0, 1.0, 2.0]), "omikuji": iter([2.0, 4.0, 2.0])}

    def side(name):
        def run(folder, timeout_s=None, model=None):
            order.append(name)
            t = next(times[name])
            return {"train_s": t, "peak_mem_mib": 10.0 * t, "peak_mem_train_mib": 5.0 * t,
                    "precision_at_1": 0.5, "recall_at_10": 0.4}
        return run

    monkeypatch.setattr(scale, "RUNNERS", {"xmr": side("xmr"), "omikuji": side("omikuji")})
    out = tmp_path / "rep.json"
    result = scale.main(["--sizes", str(N_LABELS), "--n-test", str(N_TEST), "--cache-dir",
                         str(data_dir.parent), "--out", str(out), "--sides", "xmr", "omikuji",
                         "--repeats", "3"])
    # round r starts with side r mod 2: no side always runs first
    assert order == ["xmr", "omikuji", "omikuji", "xmr", "xmr", "omikuji"]
    row = result["sizes"][0]
    assert row["xmr"]["train_s"] == 2.0 and row["omikuji"]["train_s"] == 2.0  # medians
    assert row["xmr"]["peak_mem_mib"] == 20.0
    assert [r["train_s"] for r in row["xmr"]["repeats"]] == [3.0, 1.0, 2.0]
    pairs = row["pair_ratios"]["omikuji"]
    assert pairs["ratios"] == [1.5, 0.25, 1.0]
    assert (pairs["median"], pairs["min"], pairs["max"]) == (1.0, 0.25, 1.5)
    assert result["settings"]["repeats"] == 3
    table = scale.markdown_table(json.loads(out.read_text()))
    assert "| train_s | 2 (1–3, n=3) | 2 (2–4, n=3) |" in table
    assert "omikuji 1.5, 0.2500, 1 (median 1: level)" in table
    assert scale.pair_verdict({"min": 0.8, "max": 0.99}) == "ahead in every round"
    assert scale.pair_verdict({"min": 1.01, "max": 1.2}) == "behind in every round"
    assert scale.pair_verdict({"min": 0.9, "max": 1.0}) == "level"
    with pytest.raises(SystemExit):
        scale.parse_args(["--repeats", "0"])


def test_a_side_that_does_not_finish_is_not_repeated(monkeypatch):
    entries = iter([{"did_not_finish": "x side: did not finish in 5 s", "time_limit_s": 5.0}])
    calls = []

    def run(folder, side, timeout_s, model=None):
        calls.append(side)
        return next(entries) if side == "omikuji" else {"train_s": 1.0}

    monkeypatch.setattr(scale, "run_one", run)
    got = scale.run_repeated(Path("."), ["xmr", "omikuji"], 3, 5.0)
    assert calls == ["xmr", "omikuji", "xmr", "xmr"]
    assert "did_not_finish" in got["omikuji"] and got["xmr"]["train_s"] == 1.0
