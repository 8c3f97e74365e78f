"""Prefix-length slices of an experiment that ran on two datasets (qac_comparison: AOL and the
synthetic logs): each dataset gets its own best configuration and its own curves."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import load, qac_prefix_slices

# (run_id, dataset, indexer, Table 2 row, seed, overall MRR@10, MRR@10 at prefix length 1)
RUNS = [("a1", "aol", "hkmeans", "5", 0, 0.30, 0.10), ("a2", "aol", "hkmeans", "3", 0, 0.20, 0.90),
        ("s1", "syn", "hkmeans", "5", 0, 0.40, 0.50), ("s2", "syn", "hkmeans", "3", 0, 0.45, 0.60),
        ("a3", "aol", "hybrid", "7", 0, 0.31, 0.20)]


@pytest.fixture
def runs(monkeypatch):
    frame = pd.DataFrame([{"run_id": r, "dataset": d, "indexer": i, "params.qac_row": row,
                           "seed": s, "mrr_at_10": m, "task": "qac", "model": "xmr_qac"}
                          for r, d, i, row, s, m, _ in RUNS])
    first = {r: m1 for r, *_, m1 in RUNS}
    monkeypatch.setattr(load, "load_artifact_json", lambda runs, run_id, name: {
        "prefix_length": {"1": {"n": 10, "mrr_at_10": first[run_id]},
                          "2": {"n": 5, "mrr_at_10": 0.5}}})
    return frame


def test_each_dataset_gets_its_own_best_configuration(runs):
    pts = qac_prefix_slices.points(runs)
    one = pts[pts["prefix_length"] == "1"].set_index(["dataset", "indexer"])["mrr_at_10"]
    # hkmeans: row 5 is best on AOL (0.30 > 0.20), row 3 on the synthetic logs (0.45 > 0.40)
    assert one[("aol", "hkmeans")] == pytest.approx(0.10)
    assert one[("syn", "hkmeans")] == pytest.approx(0.60)
    assert one[("aol", "hybrid")] == pytest.approx(0.20)
    assert ("syn", "hybrid") not in one.index
    assert len(pts) == 3 * 2  # three (dataset, indexer) curves, two buckets each


def test_figure_has_one_panel_per_dataset(runs, tmp_path):
    runs = runs.assign(git_commit="abc1234", experiment="qac_comparison",
                       start_time=pd.Timestamp("2026-11-30"))
    result = qac_prefix_slices.build(runs, tmp_path)
    assert not result.missing, result.missing
    assert "one panel per dataset" in result.caption
    assert set(pd.read_csv(tmp_path / "qac_prefix_slices.csv")["dataset"]) == {"aol", "syn"}
