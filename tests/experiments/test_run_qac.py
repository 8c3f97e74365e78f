"""The QAC side of the harness: experiment=smoke_qac end to end (4 XMR configurations of the
Table 2 grid + most-popular completion, 2 seeds, on tiny synthetic session logs)."""

from __future__ import annotations

import json
import math

import pytest

pytestmark = pytest.mark.slow

QAC_METRICS = ("mrr_at_10", "bleu", "sacrebleu_top1", "train_time_s", "latency_p50_ms",
               "latency_p99_ms", "throughput_qps")


@pytest.fixture(scope="module")
def smoke_qac(tmp_path_factory):
    from conftest import _mlflow_store, _run_app, _tmp_paths  # noqa: PLC0415

    root = tmp_path_factory.mktemp("smoke_qac")
    proc = _run_app("experiments.run", "-m", "experiment=smoke_qac", *_tmp_paths(root),
                    cwd=root, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client, exp_id = _mlflow_store(root / "logs")
    runs = client.search_runs([exp_id], max_results=100)
    return proc, root, client, [r for r in runs if r.data.tags.get("role") != "sweep"]


def test_every_configuration_finishes(smoke_qac):
    proc, _, _, runs = smoke_qac
    assert len(runs) == 10  # 5 configurations x 2 seeds
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert sorted(r.data.params["qac_row"] for r in runs) == sorted(
        ["0", "5", "7", "9", "mpc"] * 2)
    assert {r.data.params["seed"] for r in runs} == {"0", "1"}
    assert "10 jobs, 10 finished, 0 failed" in proc.stdout


def test_qac_metrics_are_logged_and_sane(smoke_qac):
    _, _, _, runs = smoke_qac
    for run in runs:
        m = run.data.metrics
        for name in QAC_METRICS:
            assert name in m and math.isfinite(m[name]), (run.data.params["qac_row"], name)
        assert 0.0 <= m["mrr_at_10"] <= 1.0 and 0.0 <= m["bleu"] <= 1.0
        assert m["mrr_at_10"] > 0.05  # far above chance among hundreds of labels
        assert m["latency_p99_ms"] < 10.0  # the paper's bound, even on this tiny set


def test_slices_and_samples_are_artifacts(smoke_qac, tmp_path):
    _, _, client, runs = smoke_qac
    run = next(r for r in runs if r.data.params["qac_row"] == "7")
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"slices.json", "predictions_sample.json", "metrics.json", "config.yaml"} <= names
    slices = json.loads(open(client.download_artifacts(run.info.run_id, "slices.json",
                                                       str(tmp_path))).read())
    assert set(slices) == {"prefix_length", "train_frequency", "seen"}
    assert slices["prefix_length"], "no prefix-length slice"


def test_mpc_has_no_model_but_suggests(smoke_qac):
    _, _, _, runs = smoke_qac
    mpc = next(r for r in runs if r.data.params["qac_row"] == "mpc")
    assert mpc.data.params["model.name"] == "mpc"
    assert "model_nnz" not in mpc.data.metrics
    assert mpc.data.metrics["mrr_at_10"] > 0.0


def test_per_query_artifact(smoke_qac, tmp_path):
    """per_query.parquet: one row per test request (reciprocal rank, BLEU, prefix length),
    whose means are the run's MRR@10 and BLEU; the seeds draw other prefixes."""
    import pandas as pd

    _, _, client, runs = smoke_qac
    frames = {}
    for run in runs:
        if run.data.params["qac_row"] not in ("7", "mpc"):
            continue
        path = client.download_artifacts(run.info.run_id, "per_query.parquet",
                                         str(tmp_path / run.info.run_id))
        frame = pd.read_parquet(path)
        assert list(frame.columns) == ["query_id", "reciprocal_rank", "bleu", "prefix_length"]
        assert str(frame["bleu"].dtype) == "float32"
        m = run.data.metrics
        assert frame["reciprocal_rank"].astype("float64").mean() == pytest.approx(
            m["mrr_at_10"], abs=1e-6)
        assert frame["bleu"].astype("float64").mean() == pytest.approx(m["bleu"], abs=1e-6)
        assert (frame["prefix_length"] >= 1).all()
        frames[(run.data.params["qac_row"], run.data.params["seed"])] = frame
    # same seed: the same test requests for every configuration (a paired comparison)
    assert frames[("7", "0")]["prefix_length"].equals(frames[("mpc", "0")]["prefix_length"])
    assert not frames[("7", "0")]["prefix_length"].equals(frames[("7", "1")]["prefix_length"])


def test_claims_table_on_the_smoke_runs(smoke_qac, tmp_path):
    """The QAC claims the smoke rows can decide are measured over its 2 seeds; those that need
    other Table 2 rows say to run qac_table2."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import pandas as pd

    _, root, _, _ = smoke_qac
    repo = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env |= {"MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONPATH": str(repo), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-m", "analysis.claims", "--tracking-uri",
                           f"sqlite:///{root / 'logs' / 'mlflow.db'}", "--out", str(tmp_path)],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_csv(tmp_path / "claims.csv").set_index("claim")
    for claim in ("C7c", "C9a", "C9b", "C10a", "C10b"):
        row = table.loc[claim]
        assert row["preset"] == "smoke_qac" and row["n_seeds"] == 2, claim
        assert row["verdict"] in {"holds", "does not hold", "inconclusive"}, claim
    for claim in ("C7a", "C8a"):  # rows 4 and 2 are not in the smoke preset
        assert table.loc[claim, "verdict"] == "not run"
        assert "experiment=qac_table2" in table.loc[claim, "detail"]
