"""experiment=smoke_qac_comparison end to end: the best XMR rows, most-popular completion, the
seq2seq completer and the dual-encoder retriever on tiny synthetic session logs, side by side
in MLflow under the same metric names."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.slow

ROWS = ["5", "7", "8", "9", "dual_encoder", "mpc", "seq2seq"]
# what every model of the comparison logs (the paper's protocol)
SHARED_METRICS = ("mrr_at_10", "bleu", "sacrebleu_top1", "coverage", "train_time_s",
                  "latency_p50_ms", "latency_p99_ms", "latency_mean_ms", "throughput_qps",
                  "model_bytes")


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    from conftest import _mlflow_store, _run_app, _tmp_paths  # noqa: PLC0415

    root = tmp_path_factory.mktemp("smoke_qac_comparison")
    proc = _run_app("experiments.run", "-m", "experiment=smoke_qac_comparison",
                    *_tmp_paths(root), cwd=root, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client, exp_id = _mlflow_store(root / "logs", "smoke_qac_comparison")
    runs = client.search_runs([exp_id], max_results=100)
    return proc, [r for r in runs if r.data.tags.get("role") != "sweep"]


def test_every_model_finishes(comparison):
    proc, runs = comparison
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert sorted(r.data.params["qac_row"] for r in runs) == ROWS
    assert "7 jobs, 7 finished, 0 failed" in proc.stdout
    models = {r.data.params["qac_row"]: r.data.params["model.name"] for r in runs}
    assert models["seq2seq"] == "seq2seq" and models["dual_encoder"] == "dual_encoder"


def test_same_metric_names_side_by_side(comparison):
    _, runs = comparison
    for run in runs:
        m = run.data.metrics
        for name in SHARED_METRICS:
            assert name in m and math.isfinite(m[name]), (run.data.params["qac_row"], name)
        assert 0.0 <= m["mrr_at_10"] <= 1.0 and 0.0 <= m["bleu"] <= 1.0
        assert m["model_bytes"] > 0


def test_neural_models_suggest_and_record_their_training(comparison):
    _, runs = comparison
    by_row = {r.data.params["qac_row"]: r for r in runs}
    for row in ("seq2seq", "dual_encoder"):
        run = by_row[row]
        assert run.data.metrics["coverage"] > 0.5, row  # they answer (prefix-filtered)
        assert run.data.metrics["trained"] == 1.0
        assert int(run.data.tags["best_epoch"]) >= 1
    assert by_row["seq2seq"].data.params["model.hidden"] == "32"  # the tiny size
    assert by_row["seq2seq"].data.metrics["coverage"] == 1.0  # a generator always completes
