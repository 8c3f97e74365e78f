"""analysis/ on fake MLflow stores shaped like the harness's (no training, seconds): which runs
are read, the latest per grid point, every figure/table on a product_search-like grid with
baselines and QAC runs, partial sets of runs, empty stores, the pure helpers."""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from fake_mlflow_runs import (
    QAC_CONFIGS,
    FakeStore,
    baselines,
    product_search,
    qac_runs,
    xmr_metrics,
    xmr_params,
)

from analysis import figures, load
from analysis.common import EXIT_NO_RUNS, EXIT_OK, markdown_table
from analysis.qac_prefix_slices import _slice_order
from analysis.recall_vs_latency import pareto_front

GRID = {"features": ("word1", "all"), "thresholds": (0.01, 0.1, 0.5), "beams": (1, 10)}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """An initialised, empty store (schema migrations take seconds: copy it, don't redo)."""
    root = tmp_path_factory.mktemp("template")
    FakeStore(root)
    return root


def _store(template: Path, dest: Path) -> FakeStore:
    shutil.copytree(template, dest)
    store = FakeStore.__new__(FakeStore)
    from mlflow.tracking import MlflowClient

    store.uri = f"sqlite:///{dest / 'mlflow.db'}"
    store.client = MlflowClient(tracking_uri=store.uri)
    store.exp_id = store.client.get_experiment_by_name("xmr-harness").experiment_id
    store.t = 1_700_000_000_000
    return store


@pytest.fixture(scope="module")
def full(template, tmp_path_factory):
    """product_search-like sweep (+ a FAILED run, an older duplicate), baselines, QAC."""
    root = tmp_path_factory.mktemp("full") / "store"
    store = _store(template, root)
    # an older run of a grid point that the sweep reruns: the newer one must win
    store.run(xmr_params("all", 0.1, 10), {**xmr_metrics("all", 0.1, 10), "recall_at_10": 0.01},
              experiment="product_search", config_hash="product_search-all-0.1-10")
    store.run(xmr_params("all", 0.1, 10), {}, experiment="product_search", status="FAILED",
              config_hash="failed")
    n = product_search(store, **GRID)
    baselines(store)
    n_qac = qac_runs(store)
    out = root.parent / "figures"
    code = figures.main(["--tracking-uri", store.uri, "--out", str(out)])
    return store, n, n_qac, out, code


def test_load_keeps_finished_children_latest_per_grid_point(full):
    store, n, n_qac, _, _ = full
    runs = load.load_runs(store.uri)
    assert len(runs) == n + 3 + n_qac  # sweep children + baselines + QAC; no parent/FAILED
    assert (runs["status"] == "FINISHED").all() and runs["role"].isna().all()
    point = runs[runs["config_hash"] == "product_search-all-0.1-10"]
    assert len(point) == 1 and point["recall_at_10"].iloc[0] > 0.5  # the newer run
    assert runs["beam_size"].dtype == "Int64" and runs["threshold"].dtype == float
    assert set(runs["dataset"]) == {"synthetic_products (bench)", "synthetic_qac"}
    only = load.load_runs(store.uri, experiment="qac_table2")
    assert len(only) == n_qac and set(only["task"]) == {"qac"}


def test_per_preset_experiments_and_the_legacy_one_read_alike(template, tmp_path, capsys):
    """The harness logs one MLflow experiment per preset; a store written before that has
    every preset in "xmr-harness". Both layouts, even mixed in one store, read the same."""
    store = _store(template, tmp_path / "store")
    legacy = store.run(xmr_params("word1", 0.1, 10, experiment="smoke"),
                       xmr_metrics("word1", 0.1, 10), experiment="smoke", config_hash="old")
    store.per_preset = True
    n = product_search(store, **GRID)
    n_qac = qac_runs(store)
    names = {e.name for e in store.client.search_experiments()}
    assert {"xmr-harness", "product_search", "qac_table2"} <= names

    runs = load.load_runs(store.uri)
    assert len(runs) == 1 + n + n_qac
    assert set(runs["mlflow_experiment"]) == {"xmr-harness", "product_search", "qac_table2"}
    assert runs.loc[runs["run_id"] == legacy, "experiment"].item() == "smoke"
    qac = load.load_runs(store.uri, experiment="qac_table2")
    assert len(qac) == n_qac and set(qac["mlflow_experiment"]) == {"qac_table2"}
    old = load.load_runs(store.uri, mlflow_experiment="xmr-harness")
    assert list(old["run_id"]) == [legacy]
    one = load.load_runs(store.uri, mlflow_experiment="product_search")
    assert len(one) == n and set(one["experiment"]) == {"product_search"}

    out = tmp_path / "out"
    assert figures.main(["--tracking-uri", store.uri, "--out", str(out)]) == EXIT_OK
    assert f"{1 + n + n_qac} runs from" in capsys.readouterr().out
    assert len(pd.read_csv(out / "qac_table2.csv")) == n_qac
    assert len(pd.read_csv(out / "recall_vs_latency.csv")) == n


def test_every_output_on_a_full_set_of_runs(full):
    _, n, n_qac, out, code = full
    assert code == EXIT_OK
    for name in ("recall_vs_latency", "pruning_threshold", "feature_ablation",
                 "qac_prefix_slices"):
        for ext in ("png", "pdf"):
            assert (out / f"{name}.{ext}").stat().st_size > 5000
        assert len(pd.read_csv(out / f"{name}.csv")) > 0
        img = plt.imread(out / f"{name}.png")[..., :3]
        assert (img.min(axis=-1) < 0.95).mean() > 0.01
    assert len(pd.read_csv(out / "recall_vs_latency.csv")) == n
    assert len(pd.read_csv(out / "pruning_threshold.csv")) == 2 * 3  # features x thresholds
    models = pd.read_csv(out / "model_comparison.csv")
    assert list(models["model"]) == ["xrlinear", "pecos", "ovr_linear", "dual_encoder"]
    # size-matched view: every model of the comparison, recall@10 against model_bytes
    sizes = pd.read_csv(out / "model_size.csv")
    assert {"xrlinear", "pecos", "ovr_linear", "dual_encoder"} == set(sizes["model"])
    assert (out / "model_size.png").stat().st_size > 5000
    xr = sizes[sizes["model"] == "xrlinear"]
    for _, r in sizes.iterrows():  # the best XR-Linear recall among runs no larger
        small = xr[xr["model_mb"] <= r["model_mb"]]["recall_at_10"]
        assert (np.isnan(r["xrlinear_at_most_this_size"]) if small.empty
                else r["xrlinear_at_most_this_size"] == small.max())
    ablation = pd.read_csv(out / "feature_ablation.csv")
    assert (ablation["setting"] == "default").all()
    assert (ablation["beam_size"] == 10).all() and np.allclose(ablation["threshold"], 0.1)


def test_qac_table_has_every_configuration_and_mpc_last(full):
    _, _, n_qac, out, _ = full
    table = pd.read_csv(out / "qac_table2.csv")
    assert len(table) == n_qac
    assert table["configuration"].iloc[-1].startswith("MPC")
    assert table["configuration"].is_unique
    assert "indexer=hybrid" in " ".join(table["configuration"])
    md = (out / "qac_table2.md").read_text()
    assert sum(line.startswith("| ") for line in md.splitlines()) == 1 + n_qac
    assert {"MRR@10", "BLEU", "p50 latency (ms)", "p99 latency (ms)"} <= set(table.columns)


def test_prefix_slices_one_curve_per_indexer_from_the_artifacts(full):
    _, _, _, out, _ = full
    pts = pd.read_csv(out / "qac_prefix_slices.csv")
    indexers = {i for i, _, _ in QAC_CONFIGS}  # hkmeans, hybrid (2 depths), trie
    assert pts["indexer"].nunique() == len(indexers) + 1 + 1  # hybrid split by depth, MPC
    assert len(pts) == pts["indexer"].nunique() * 10  # buckets 1..9 and >=10
    hk = pts[pts["indexer"] == "hkmeans"]
    assert hk["mrr_at_10"].max() == pytest.approx(0.23 * 1.05)  # its best config's slices
    assert hk["prefix_length"].iloc[-1] == "10+" and hk["n_rows"].iloc[-1] == 20
    mpc = pts[pts["indexer"] == "MPC"]  # the bare-number shape: {"1": mrr, ..., ">=10": mrr}
    assert mpc["prefix_length"].iloc[-1] == "10+" and mpc["mrr_at_10"].iloc[-1] == 0.4


def test_partial_runs_each_output_says_what_to_run(template, tmp_path, capsys):
    store = _store(template, tmp_path / "store")
    store.run(xmr_params("all", 0.1, 10), xmr_metrics("all", 0.1, 10), experiment="adhoc")
    qac_runs(store, with_slices=False, with_mpc=False)
    code = figures.main(["--tracking-uri", store.uri, "--out", str(tmp_path / "out")])
    stdout = capsys.readouterr().out
    assert code == EXIT_OK
    ps = "run `python -m experiments.run -m experiment=product_search`"
    assert f"recall_vs_latency: no runs with several beam widths — {ps}" in stdout
    assert f"pruning_threshold: no runs with several pruning thresholds — {ps}" in stdout
    assert f"feature_ablation: no runs with at least two feature sets — {ps}" in stdout
    assert "model_comparison: wrote" in stdout
    assert "model_size: no comparison with at least two models" in stdout
    assert "qac_table2: wrote" in stdout and "no MPC baseline run" in stdout
    assert "qac_prefix_slices: no QAC run has a slices.json artifact" in stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "claims.csv", "claims.md", "diagnostics.csv", "diagnostics.md", "index.md",
        "model_comparison.csv", "model_comparison.md", "qac_table2.csv", "qac_table2.md"]


@pytest.mark.parametrize("case", ["missing_db", "empty_store", "no_experiment", "only_failed",
                                  "unknown_preset", "default_log_dir"])
def test_no_usable_runs_is_a_message_and_exit_3(case, template, tmp_path, capsys,
                                                monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path / "out"
    args = ["--out", str(out)]
    expect = "python -m experiments.run -m experiment=smoke"
    if case == "missing_db":
        args += ["--tracking-uri", f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}"]
        expect = "no MLflow store at"
    elif case == "default_log_dir":  # no --tracking-uri: <log-dir>/mlflow.db
        args += ["--log-dir", str(tmp_path / "logs")]
        expect = f"no MLflow store at {tmp_path / 'logs' / 'mlflow.db'}"
    else:
        store = _store(template, tmp_path / "store")
        args += ["--tracking-uri", store.uri]
        if case == "no_experiment":
            args += ["--mlflow-experiment", "other"]
            expect = "no MLflow experiment 'other'"
        elif case == "only_failed":
            store.run(xmr_params("all", 0.1, 10, experiment="smoke"), {}, experiment="smoke",
                      status="FAILED")
            expect = "no FINISHED runs"
        elif case == "unknown_preset":
            store.run(xmr_params("all", 0.1, 10, experiment="smoke"),
                      xmr_metrics("all", 0.1, 10), experiment="smoke")
            args += ["--experiment", "product_search"]
            expect = "presets with runs: smoke"
        else:
            expect = "no runs in any MLflow experiment of"
    assert figures.main(args) == EXIT_NO_RUNS
    err = capsys.readouterr().err
    assert expect in err and "run `" in err
    assert not out.exists()
    assert not (tmp_path / "none").exists() and not (tmp_path / "logs").exists()


def test_tracking_uri_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert load.resolve_tracking_uri("http://x:5000") == "http://x:5000"
    assert load.resolve_tracking_uri(log_dir=tmp_path) == f"sqlite:///{tmp_path}/mlflow.db"
    assert load.resolve_tracking_uri().endswith("/logs/mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere/m.db")
    assert load.resolve_tracking_uri(log_dir=tmp_path) == "sqlite:////elsewhere/m.db"
    assert load.resolve_tracking_uri("file:///a") == "file:///a"


def test_pareto_front_by_hand():
    #          fast+bad  slow+good  dominated  tie on latency, worse
    lat = [0.1, 1.0, 2.0, 1.0, 0.5]
    rec = [0.2, 0.9, 0.8, 0.7, 0.5]
    assert pareto_front(lat, rec).tolist() == [True, True, False, False, True]
    assert pareto_front([], []).tolist() == []


def test_slice_buckets_sort_numerically_open_bucket_last():
    keys = [">=10", "10", "2", "1", "9"]
    assert sorted(keys, key=_slice_order) == ["1", "2", "9", "10", ">=10"]
    assert sorted(["10+", "9", "0"], key=_slice_order) == ["0", "9", "10+"]


def test_markdown_table_formats_and_escapes():
    df = pd.DataFrame({"name": ["a|b", "c"], "x": [0.123456, float("nan")],
                       "run_id": ["0123456789abcdef", "fedcba9876543210"]})
    md = markdown_table(df, floatfmt={"x": ".3f"}).splitlines()
    assert md[0] == "| name | x | run_id |"
    assert md[1] == "|---|---:|---|"
    assert md[2] == "| a\\|b | 0.123 | 01234567 |"
    assert md[3] == "| c | – | fedcba98 |"
