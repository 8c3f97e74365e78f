"""`benchmarks.ovr_homedepot` on the tiny Home Depot fixture: the phases reproduce
`select_threshold`, both sides run alternating, the report has every figure (no timings are
asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from baselines.ovr_linear import (
    THRESHOLD_CANDIDATES,
    OVRLinear,
    candidate_scores,
    select_threshold,
    validation_split,
)
from benchmarks import ovr_homedepot

DATA = Path(__file__).parents[1] / "data" / "loaders"  # homedepot/train.csv: 17 train rows


def test_load_keeps_every_row_and_a_label_subset():
    full = ovr_homedepot.load(DATA, 1.0, seed=0)
    part = ovr_homedepot.load(DATA, 0.5, seed=0)
    assert part["X"].shape == full["X"].shape  # every training row, the same features
    assert part["n_labels_total"] == full["n_labels"] == full["Y"].shape[1]
    assert part["Y"].shape[1] == part["n_labels"] == round(0.5 * full["n_labels"])
    assert np.all(np.diff(part["Y_test"].indptr) > 0)  # test rows without a kept label dropped
    with pytest.raises(ValueError, match="fraction must be in"):
        ovr_homedepot.load(DATA, 0.0, seed=0)


@pytest.mark.parametrize("lanes", [1, None])
def test_run_side_chooses_what_select_threshold_chooses(lanes):
    data = ovr_homedepot.load(DATA, 1.0, seed=0)
    res = ovr_homedepot.run_side(data, lanes, n_jobs=1, seed=0)
    best, scores = select_threshold(data["X"], data["Y"], seed=0, lanes=lanes, n_jobs=1)
    assert res["threshold"] == best
    assert res["valid_recall_at_10"] == {str(c): s for c, s in scores.items()}
    for phase in ovr_homedepot.PHASES:
        assert res[f"{phase}_cpu_s"] >= 0 and res[f"{phase}_wall_s"] >= 0


def test_selection_scores_only_validation_rows_with_a_kept_label():
    data = ovr_homedepot.load(DATA, 0.5, seed=0)
    X, Y = data["X"], data["Y"]
    valid, fit = validation_split(X.shape[0], 0.5, 0)
    labelled = valid[np.diff(Y[valid].indptr) > 0]
    assert 0 < labelled.size < valid.size  # the fixture has both kinds of rows here
    res = ovr_homedepot.run_side(data, None, n_jobs=1, seed=0, valid_fraction=0.5)
    assert res["n_valid_rows"] == labelled.size
    probe = OVRLinear(threshold=0.0, n_jobs=1, seed=0, allow_empty=True).fit(X[fit], Y[fit])
    expected = candidate_scores(probe, X[labelled], Y[labelled], THRESHOLD_CANDIDATES)
    assert res["valid_recall_at_10"] == {str(c): s for c, s in expected.items()}


def test_main_reports_both_sides_and_their_ratio(tmp_path, caplog):
    out = tmp_path / "r.json"
    caplog.set_level("INFO", logger="benchmarks.ovr_homedepot")
    result = ovr_homedepot.main(["--data-dir", str(DATA), "--fraction", "1.0",
                                 "--repeats", "2", "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert set(result["sides"]) == set(ovr_homedepot.SIDES)
    order = [m.split(",")[0] for m in caplog.messages if ", repeat " in m]
    assert order == ["one_lane", "lanes", "one_lane", "lanes"]  # A B A B
    for side in result["sides"].values():
        assert len(side["total_cpu_s_runs"]) == 2
        assert side["full_estimate_cpu_s"] == side["total_cpu_s"]  # fraction 1
        assert {"precision_at_1", "recall_at_10", "threshold", "model_nnz"} <= set(side)
    assert result["runs"][0]["command"].startswith("python -m benchmarks.ovr_homedepot ")
    assert "finished_utc" in result["runs"][0] and "cpu_count" in result["machine"]
    ratio = result["ratio_lanes_over_one_lane"]
    assert {"selection_fit_cpu", "final_fit_cpu", "total_cpu", "precision_at_1_diff"} <= set(
        ratio)
    with pytest.raises(ValueError, match="repeats"):
        ovr_homedepot.main(["--data-dir", str(DATA), "--repeats", "0"])
