"""One-seed points get the standard error over their test queries as their spread."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import seeds, style


def test_query_standard_error_of_a_mean_and_of_a_percentile():
    rng = np.random.default_rng(0)
    hits = (rng.random(2000) < 0.3).astype(float)
    assert seeds.query_standard_error(hits) == pytest.approx(hits.std(ddof=1) / np.sqrt(2000))
    lat = rng.lognormal(-2.0, 0.5, 2000)
    se = seeds.query_standard_error(lat, 50.0)  # theory: m σ √(2π) / (2 √n) ≈ 0.0018
    assert 0.001 < se < 0.003
    assert seeds.query_standard_error(lat, 50.0) == se  # seeded: reproducible
    assert np.isnan(seeds.query_standard_error(np.array([1.0])))


def test_query_spread_fills_only_one_seed_points():
    rng = np.random.default_rng(1)
    frames = {"a": pd.DataFrame({"query_id": np.arange(400), "recall_at_10":
                                 (rng.random(400) < 0.5).astype(np.float32),
                                 "latency_ms": rng.lognormal(-2, 0.3, 400).astype(np.float32)})}
    pts = pd.DataFrame({"run_id": ["a", "b", "c"], "n_seeds": [1, 3, 1],
                        "recall_at_10": [0.5, 0.6, 0.7], "recall_at_10_std": [np.nan, 0.01, np.nan],
                        "latency_p50_ms": [0.1, 0.1, 0.1],
                        "latency_p50_ms_std": [np.nan, 0.02, np.nan]})
    out, used = seeds.query_spread(pts, frames.get, ["recall_at_10", "latency_p50_ms"])
    assert used
    se = frames["a"]["recall_at_10"].astype(float).std(ddof=1) / np.sqrt(400)
    assert out.loc[0, "recall_at_10_std"] == pytest.approx(se)
    assert 0 < out.loc[0, "latency_p50_ms_std"] < 0.01
    assert out.loc[1, "recall_at_10_std"] == 0.01  # several seeds: their own spread stays
    assert np.isnan(out.loc[2, "recall_at_10_std"])  # no per-query results: no bar
    assert np.isnan(pts.loc[0, "recall_at_10_std"])  # the input is not modified
    _, used = seeds.query_spread(pts.iloc[1:], frames.get, ["recall_at_10"])
    assert not used


def test_spread_text_says_what_the_bars_are():
    assert "no error bars" in style.spread_text([1, 1])
    assert "standard error over the test queries" in style.spread_text([1, 1], query_se=True)
    assert "standard deviation" in style.spread_text([3, 3])
