"""Every trained runner marks where its fit spends time and memory (experiments.stages), so a
StageRecorder (benchmarks.aol_full) can attribute them: product search as QAC."""

from __future__ import annotations

import pytest

from experiments.job import load_data
from experiments.spec import resolve
from experiments.stages import StageRecorder

XMR_BASE = ("debug=tiny", "data=synthetic_tiny", "features=word1", "indexer.max_leaf_size=20",
            "logger=none")


@pytest.mark.parametrize("overrides, stages", [
    (["model=xrlinear"], ["featurise", "label embedding", "index", "train"]),
    # OVR at a given threshold: trained without the tuning step
    (["model=ovr_linear", "model.threshold=0.1"], ["featurise", "train"]),
])
def test_product_search_runners_mark_their_stages(compose_cfg, tmp_path, overrides, stages):
    spec = resolve(compose_cfg([*XMR_BASE, *overrides, f"paths.cache_dir={tmp_path}"]))
    ds = load_data(spec.data)[0]
    with StageRecorder() as rec:
        spec.runner().fit(ds)
    assert [r["stage"] for r in rec.rows] == stages
    assert all(r["seconds"] >= 0 and r["peak_rss_mib"] > 0 for r in rec.rows)


def test_a_stage_that_raises_is_recorded_as_failed():
    from experiments.stages import stage

    with StageRecorder() as rec:
        with stage("fine"):
            pass
        with pytest.raises(RuntimeError), stage("broken"):
            raise RuntimeError("boom")
    assert [(r["stage"], r.get("failed", False)) for r in rec.rows] == [
        ("fine", False), ("broken", True)]
